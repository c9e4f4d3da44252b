"""The API's CSV exports neutralise formula-like text (issue 10, item 7): contacts named
``=cmd|' /C calc'!A0`` or ``=HYPERLINK(...)`` and such site names reach sms.csv and
sms-invalid.csv with a leading quote, so a spreadsheet shows them as text."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from api.storage import store_plan
from tests.api.conftest import auth
from tests.api.plandir import plan_frames, plan_summary

CMD = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("http://evil.example/x?id=1","点此领取")'
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _dangerous(cell: str) -> bool:
    return bool(cell) and cell[0] in "=+-@\t\r" and not _NUMBER.match(cell)


def test_sms_exports_neutralise_formulas(client: TestClient) -> None:
    frames = plan_frames()
    names = [CMD, LINK, "+SUM(1)", "@NOW()", "-1+1", "=1", "=2", "=3", "\t=4"]
    frames["contacts"]["contact"] = names[: len(frames["contacts"])]
    frames["sites"].loc[0, "name"] = LINK
    pid = store_plan(client.app.state.engine, plan_summary(), frames)  # type: ignore[attr-defined]
    seen: set[str] = set()
    for name in ("sms.csv", "sms-invalid.csv"):
        r = client.get(f"/api/v1/plans/{pid}/exports/{name}", headers=auth())
        assert r.status_code == 200, r.text
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(rows) > 1
        for row in rows:
            for cell in row:
                assert not _dangerous(cell), (name, cell)
                seen.add(cell)
    # the invalid list names the households without a valid phone, with the site's name
    assert seen & {"'" + n for n in names}
    assert "'" + LINK in seen
