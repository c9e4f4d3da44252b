"""`sampler checkins import`, `sampler status` and `sampler missed` on the service's database."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.db import make_engine, run_migrations
from api.storage import store_plan
from sampler.day.codes import resident_codes
from tests.api.conftest import CODE_SECRET
from tests.api.plandir import AREA, plan_frames, plan_summary


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    url = f"sqlite:///{tmp_path / 'day.db'}"
    monkeypatch.setenv("SAMPLER_DATABASE_URL", url)
    engine = make_engine(url)
    run_migrations(engine)
    plan_id = store_plan(engine, plan_summary(), plan_frames())
    engine.dispose()
    return plan_id


def test_import_status_missed_offline(stored: int, tmp_path: Path) -> None:
    """A Chinese-header export imports once (twice counts nothing), status shows it, missed lists the rest."""
    code = resident_codes(AREA, ["H001"], CODE_SECRET.encode())[0]
    export = tmp_path / "采样记录.csv"
    export.write_text("核酸码,采样点编号,采样时间,人数\n"
                      f"{code},S1,2022-11-23 08:12,3\n"
                      ",S1,2022-11-23 08:13,1\n"
                      f"{code},S1,2022-11-23 08:14,1\n", encoding="utf-8-sig")
    runner = CliRunner()
    first = runner.invoke(app, ["checkins", "import", str(export), "--plan", str(stored)])
    assert first.exit_code == 0, first.output
    assert "accepted" in first.output and "data row 2" in first.output and "data row 3" in first.output
    again = runner.invoke(app, ["checkins", "import", str(export), "--plan", str(stored)])
    assert again.exit_code == 0 and "already stored" in again.output
    status = runner.invoke(app, ["status", "--plan", str(stored), "--by", "site", "--at", "2022-11-23T09:00"],
                           env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    assert "二中操场采样点" in status.output and "30.0%" in status.output  # 3 of S1's 10 planned people
    out = tmp_path / "missed.xlsx"
    missed = runner.invoke(app, ["missed", "--plan", str(stored), "--at", "2022-11-24T06:00", "-o", str(out)])
    assert missed.exit_code == 0, missed.output
    assert "8 households" in missed.output and out.stat().st_mode & 0o777 == 0o600
    ws = openpyxl.load_workbook(out)["G1"]
    assert [r[3] for r in ws.iter_rows(min_row=3, values_only=True)] == ["H002", "H003", "H004", "H005", "H006", "H007"]
    bad = runner.invoke(app, ["status", "--plan", "999"])
    assert bad.exit_code == 2 and "no plan 999" in bad.output
