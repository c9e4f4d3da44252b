"""Hostile registry uploads are 4xx naming the file, never 500, and nothing is stored (issue 10,
item 6): 10 MB of random bytes named .xlsx, a CSV renamed .xlsx, an XLSX with DTD entities, a
zip bomb, a NUL in a contact, a header-only households file. (The reader itself is made safe
and bounded in sampler.io.workbook; this checks the upload path that calls it.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv
from tests.sampler.hostile_files import dtd_xlsx, random_bytes, zip_bomb_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["household_id", "building_id", "unit", "room", "size", "phone"]


def _upload(client: TestClient, name: str, data: bytes) -> tuple[int, object]:
    files = {"households": (name, data, XLSX if name.endswith(".xlsx") else "text/csv"),
             "buildings": ("buildings.csv", buildings_csv(), "text/csv"),
             "sites": ("sites.csv", sites_csv(), "text/csv")}
    r = client.post("/api/v1/scenarios", files=files, data={"parameters": PARAMETERS, "name": "hostile"},
                    headers=auth())
    return r.status_code, r.json()


def _hostile(kind: str, tmp_path: Path) -> tuple[str, bytes, str]:
    """(file name, bytes, words the 422 must contain)."""
    path = tmp_path / "households.xlsx"
    if kind == "random":
        return "households.xlsx", random_bytes(path, 10 << 20).read_bytes(), "not an XLSX workbook"
    if kind == "csv-as-xlsx":
        # the service's zip check ("not an XLSX workbook") or the reader ("a text file named .xlsx")
        return "households.xlsx", households_csv(), "xlsx"
    if kind == "dtd":
        return "households.xlsx", dtd_xlsx(path, HEADER).read_bytes(), "DTD"
    if kind == "zip-bomb":
        return "households.xlsx", zip_bomb_xlsx(path, HEADER).read_bytes(), "zip bomb"
    if kind == "nul":
        lines = households_csv().decode().splitlines()
        lines[2] = lines[2] + "\x00"
        return "households.csv", ("\n".join(lines) + "\n").encode(), "NUL"
    assert kind == "header-only"
    return "households.csv", households_csv().splitlines(keepends=True)[0], "0 rows"


@pytest.mark.parametrize("kind", ["random", "csv-as-xlsx", "dtd", "zip-bomb", "nul", "header-only"])
def test_hostile_upload_is_422_and_nothing_is_stored(client: TestClient, tmp_path: Path, kind: str) -> None:
    name, data, words = _hostile(kind, tmp_path)
    code, body = _upload(client, name, data)
    assert code == 422, (code, body)
    assert isinstance(body, dict)
    issues = body["detail"]
    assert any("households" in i["file"] and words.lower() in f"{i['value']} {i['fix']}".lower() for i in issues), issues
    assert all(str(tmp_path) not in i["file"] for i in issues)
    if kind == "nul":
        assert any(i["row"] == 3 and i["field"] == "phone" for i in issues), issues  # line 3 of the file
    assert client.get("/api/v1/scenarios", headers=auth()).json()["count"] == 0
