"""Person-level rosters (花名册) uploaded to the service: persons + compounds + sites is a scenario
stored as the households, buildings and sites it was read into (WGS-84), a plan job plans every
household, and no identity number of the roster reaches any table of the database (SQLite and,
with SAMPLER_TEST_POSTGRES_URL, PostgreSQL). Bad addresses and mixed or incomplete sets of files
are 422s naming file, row and value."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, insert, select

from api.jobs import run_plan_job
from api.models import PLAN_TABLES, Job, Plan, ScenarioFile
from api.settings import Settings
from sampler.params import load_scenario
from sampler.registry.read import load_registry
from tests.api.conftest import auth
from tests.sampler.test_persons import ROSTER, bad_check, idn, write_roster

PARAMETERS = """
area: 芝山街道
registry: {crs: gcj02}
window: {start: "2022-11-23 06:00", hours: 24, slot_minutes: 30}
home_visits: {teams: 1}
sms: {sign: 芝山街道}
"""
# The test roster, a resident whose number fails its check digit and one with a lower-case x.
ROWS = [*ROSTER,
        ["周一", bad_check(idn("19700101", "061")), "男", "户主", "东风村14号", "13900000004", "网格二", ""],
        ["吴二", idn("19720101", "071").lower(), "女", "户主", "湖绣家园3号楼1单元201室", "13900000005", "网格一", "卧床"]]
IDS = [r[1] for r in ROWS]


def _files(tmp: Path, rows: list[list[str]] | None = None) -> dict[str, tuple[str, bytes, str]]:
    """persons.csv, compounds.csv and sites.csv of the test roster, as multipart files."""
    write_roster(tmp, ROWS if rows is None else rows, crs="gcj02")
    return {role: (f"{role}.csv", (tmp / f"{role}.csv").read_bytes(), "text/csv")
            for role in ("persons", "compounds", "sites")}


def _upload(client: TestClient, files: dict[str, Any]) -> Any:
    return client.post("/api/v1/scenarios", files=files, data={"parameters": PARAMETERS, "name": "花名册"},
                       headers=auth())


def _texts(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, column, text) of every value of every table (reflected), bytes decoded and XLSX or
    other zip blobs unpacked, so a number inside a stored workbook is found too."""
    meta = MetaData()
    meta.reflect(bind=engine)
    out: list[tuple[str, str, str]] = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes | memoryview):
                        data = bytes(value)
                        if data.startswith(b"PK"):
                            with zipfile.ZipFile(io.BytesIO(data)) as z:
                                data = b"".join(z.read(n) for n in z.namelist())
                        value = data.decode("utf-8", errors="replace")
                    if value is not None:
                        out.append((table.name, column, str(value)))
    assert len({t for t, _, _ in out}) > 5  # the scenario, its files, the job, the plan and its tables
    return out


def test_roster_upload_plans_every_household_and_no_identity_number_is_stored(
        client: TestClient, settings: Settings, tmp_path: Path) -> None:
    """201 with the roster's counts; stored as households/buildings/sites CSVs in WGS-84 with
    ``crs: wgs84``; a plan job places every household; no identity number in any table."""
    r = _upload(client, _files(tmp_path / "in"))
    assert r.status_code == 201, r.text
    body = r.json()
    expected = load_registry(load_scenario(tmp_path / "in" / "scenario.yaml"))  # what the CLI reads (GCJ-02)
    assert (body["households"], body["people"], body["buildings"], body["sites"]) == (
        len(expected.households), len(ROWS), len(expected.buildings), 2)
    assert body["parameters"]["registry"] == {"crs": "wgs84"} and body["parameters"]["sms"] == {"sign": "芝山街道"}
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        stored = {f.role: (f.filename, f.content) for f in conn.execute(
            select(ScenarioFile.role, ScenarioFile.filename, ScenarioFile.content)
            .where(ScenarioFile.scenario_id == body["id"]))}
    assert {role: name for role, (name, _) in stored.items()} == {
        "households": "households.csv", "buildings": "buildings.csv", "sites": "sites.csv"}
    buildings = stored["buildings"][1].decode("utf-8")
    lon = repr(float(expected.buildings.lon[0]))  # converted from GCJ-02 once, written exactly
    assert lon in buildings and "120.0873" not in buildings
    assert repr(float(expected.sites[0].lon)) in stored["sites"][1].decode("utf-8")
    # a plan job on the stored scenario
    with engine.begin() as conn:
        job_id = conn.execute(insert(Job).values(kind="plan", status="queued", stage="queued", scenario_id=body["id"],
                                                 params="{}", owner="test").returning(Job.id)).scalar_one()
    run_plan_job(settings.database_url, job_id, str(settings.data_dir))
    job = client.get(f"/api/v1/jobs/{job_id}", headers=auth()).json()
    assert job["status"] == "succeeded", job
    a = PLAN_TABLES["assignments"]
    with engine.connect() as conn:
        plan_id = conn.execute(select(Plan.id).where(Plan.job_id == job_id)).scalar_one()
        placed = conn.execute(select(a.c.household_id, a.c.mode).where(a.c.plan_id == plan_id)).all()
    assert sorted(h for h, _ in placed) == sorted(str(i) for i in expected.households.id)
    assert {m for _, m in placed} == {"site", "home"}  # the bedridden resident's household is visited
    texts = _texts(engine)
    assert {t for t, _, v in texts if "张伟" in v} >= {"scenario_files", "plan_contacts"}  # the scan sees the data
    for number in IDS:
        for body17 in (number, number.upper(), number[:17]):
            assert not [(t, c) for t, c, v in texts if body17 in v], body17
    assert not [(t, c) for t, c, v in texts if "身份证" in v]  # not even the roster's header


def test_a_bad_address_names_file_excel_row_and_value(client: TestClient, tmp_path: Path) -> None:
    """An address with no building is a 422 naming persons.csv, the row Excel shows and the address."""
    rows = [*ROWS[:3], ["郑三", idn("19800101", "081"), "男", "户主", "湖绣家园物业办公室", "13900000006", "网格一", ""]]
    r = _upload(client, _files(tmp_path / "in", rows))
    assert r.status_code == 422, r.text
    issues = r.json()["detail"]
    assert [(i["file"], i["row"], i["value"]) for i in issues] == [("persons.csv", 5, "湖绣家园物业办公室")]
    assert issues[0]["fix"]
    assert client.get("/api/v1/scenarios", headers=auth()).json()["count"] == 0


def test_an_identity_number_in_a_bad_cell_is_not_echoed(client: TestClient, tmp_path: Path) -> None:
    """Cell checks (a NUL byte) name the identity-number cell without showing the number."""
    rows = [list(r) for r in ROWS]
    rows[0][1] = rows[0][1][:9] + "\x00" + rows[0][1][9:]
    r = _upload(client, _files(tmp_path / "in", rows))
    assert r.status_code == 422, r.text
    assert ROWS[0][1][:9] not in r.text and "(not shown)" in r.text


def test_households_and_persons_mixed_is_422(client: TestClient, tmp_path: Path) -> None:
    from tests.api.registry_files import buildings_csv, households_csv

    files = {**_files(tmp_path / "in"), "households": ("households.csv", households_csv(), "text/csv"),
             "buildings": ("buildings.csv", buildings_csv(), "text/csv")}
    r = _upload(client, files)
    assert r.status_code == 422, r.text
    (issue,) = r.json()["detail"]
    assert issue["file"] == "buildings, compounds, households, persons" and "not files of both" in issue["fix"]
    files.pop("buildings")
    files.pop("compounds")
    r = _upload(client, files)  # one file of each set
    assert r.status_code == 422 and "not files of both" in r.json()["detail"][0]["fix"]
    assert client.get("/api/v1/scenarios", headers=auth()).json()["count"] == 0


@pytest.mark.parametrize(("given", "missing"), [(("persons", "sites"), ["compounds"]),
                                                (("compounds",), ["persons", "sites"]),
                                                ((), ["households", "buildings", "sites"]),
                                                (("sites",), ["households", "buildings"])])
def test_an_incomplete_set_names_the_missing_files(client: TestClient, tmp_path: Path,
                                                   given: tuple[str, ...], missing: list[str]) -> None:
    files = {k: v for k, v in _files(tmp_path / "in").items() if k in given}
    r = _upload(client, files)
    assert r.status_code == 422, r.text
    assert [(i["file"], i["value"]) for i in r.json()["detail"]] == [(m, "(missing)") for m in missing]


def test_a_roster_as_xls_is_accepted(client: TestClient, tmp_path: Path) -> None:
    """A legacy .xls roster (with a title row) is read in the child like the CSV."""
    pytest.importorskip("xlwt", reason="xlwt writes the .xls test file")
    pytest.importorskip("python_calamine", reason="python-calamine reads .xls")
    write_roster(tmp_path / "in", ROWS, form="xls", titles=1, crs="gcj02")
    files = {"persons": ("花名册.xls", (tmp_path / "in" / "persons.xls").read_bytes(), "application/vnd.ms-excel"),
             **{k: v for k, v in _files(tmp_path / "csv").items() if k != "persons"}}
    r = _upload(client, files)
    assert r.status_code == 201, r.text
    assert r.json()["people"] == len(ROWS)


def test_a_household_the_household_files_refuse_names_the_roster(client: TestClient, tmp_path: Path) -> None:
    """21 residents at one address are one household of 21, which a households file cannot hold:
    a 422 naming the roster and the household (not the households.csv the service wrote)."""
    rows = [["居民" + str(k), idn("19800101", f"{k:03d}"), "男", "", "湖绣家园5号楼1单元101室", "", "网格一", ""]
            for k in range(21)]
    r = _upload(client, _files(tmp_path / "in", [*ROWS, *rows]))
    assert r.status_code == 422, r.text
    issues = r.json()["detail"]
    assert [(i["file"], i["row"], i["field"]) for i in issues] == [("persons.csv", None, "size")]
    assert issues[0]["value"] == "household 湖绣家园-5-1-101: 21" and "20" in issues[0]["fix"]
    assert client.get("/api/v1/scenarios", headers=auth()).json()["count"] == 0


def test_purging_a_roster_scenario_erases_its_names_and_phones(client: TestClient, tmp_path: Path) -> None:
    """The stored households file of a roster is what a purge deletes: no resident's name or phone
    stays in the scenario's files; its buildings and sites stay."""
    r = _upload(client, _files(tmp_path / "in"))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert client.post(f"/api/v1/scenarios/{sid}/purge", headers=auth()).status_code == 200
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(ScenarioFile.role, ScenarioFile.content).where(ScenarioFile.scenario_id == sid))
        files: dict[str, bytes] = {str(row[0]): bytes(row[1]) for row in rows}
    assert set(files) == {"buildings", "sites"}
    text = b"".join(files.values()).decode("utf-8")
    assert not [r[0] for r in ROWS if r[0] in text] and "139000000" not in text
