"""Forecast jobs in the service: `POST /plans/{id}/forecasts` forecasts from the check-ins stored for
the plan; `GET /forecasts/{id}` gives the status and the result; `GET /plans/{id}/forecasts` lists
them. The job body runs in this process (the runner's submit is replaced), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from api.jobs import run_plan_job
from api.models import Forecast, Job, Plan
from api.settings import Settings
from tests.api.conftest import auth
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv

pytest.importorskip("sampler.registry.read", reason="the registry reader has not landed yet")

SITE_KEYS = ["site_id", "name", "due_people", "remaining_people", "observed_rate", "planned_rate",
             "expected_finish", "p_finish_in_window", "late"]


class InlineJobs:
    """Runs a submitted job function at once, in this process (instead of a worker process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def submit(self, job_id: int, function: Callable[[str, int, str], None] = run_plan_job) -> None:
        function(self.settings.database_url, job_id, str(self.settings.data_dir))

    def shutdown(self, grace: float = 5.0) -> None:
        pass


def _campaign(client: TestClient, settings: Settings, parameters: str = PARAMETERS) -> int:
    """Upload a scenario, plan it (in-process), publish; return the plan id."""
    files = {"households": ("households.csv", households_csv(30)), "buildings": ("buildings.csv", buildings_csv()),
             "sites": ("sites.csv", sites_csv())}
    r = client.post("/api/v1/scenarios", files=files, data={"parameters": parameters}, headers=auth())
    assert r.status_code == 201, r.text
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        job_id = conn.execute(insert(Job).values(kind="plan", status="queued", stage="queued",
                                                 scenario_id=r.json()["id"], params="{}", owner="test")
                              .returning(Job.id)).scalar_one()
    run_plan_job(settings.database_url, job_id, str(settings.data_dir))
    with engine.connect() as conn:
        plan_id = int(conn.execute(select(Plan.id).where(Plan.job_id == job_id)).scalar_one())
    assert client.post(f"/api/v1/plans/{plan_id}/publish", headers=auth()).status_code == 200
    return plan_id


@pytest.fixture
def inline(client: TestClient, settings: Settings) -> TestClient:
    real = client.app.state.jobs  # type: ignore[attr-defined]
    client.app.state.jobs = InlineJobs(settings)  # type: ignore[attr-defined]
    yield client  # type: ignore[misc]
    client.app.state.jobs = real  # type: ignore[attr-defined]


def _check_in_first(client: TestClient, plan_id: int, n: int) -> int:
    """Check in the first ``n`` households planned at a site, 5 minutes before their slot ends."""
    rows = client.get(f"/api/v1/plans/{plan_id}/assignments", params={"limit": 1000}, headers=auth()).json()["data"]
    at_site = sorted((r for r in rows if r["mode"] == "site"), key=lambda r: r["slot_end"])[:n]
    checkins = [{"id": f"dev-{i}", "household_id": r["household_id"], "site_id": r["site_id"],
                 "at": r["slot_end"].replace(" ", "T")[:14] + "25:00+08:00", "people": r["size"]}
                for i, r in enumerate(at_site)]
    answer = client.post(f"/api/v1/plans/{plan_id}/checkins", json={"checkins": checkins}, headers=auth()).json()
    assert answer["accepted"] == n and not answer["rejected"], answer
    return sum(int(r["size"]) for r in at_site)


def test_forecast_job_uses_the_stored_checkins(inline: TestClient, settings: Settings) -> None:
    """A forecast at 08:00 from the stored check-ins: 202 with the job and the forecast id; the
    result has exactly the names the console reads; the list shows it."""
    client = inline
    plan_id = _campaign(client, settings)
    people = _check_in_first(client, plan_id, 5)
    r = client.post(f"/api/v1/plans/{plan_id}/forecasts",
                    json={"at": "2022-11-23T08:00:00+08:00", "replications": 3, "seed": 1}, headers=auth())
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "forecast" and job["plan_id"] == plan_id and job["forecast_id"] >= 1
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=auth()).json()["status"] == "succeeded"
    got = client.get(f"/api/v1/forecasts/{job['forecast_id']}", headers=auth()).json()
    assert got["status"] == "succeeded" and got["plan_id"] == plan_id and got["replications"] == 3
    result: dict[str, Any] = got["result"]
    assert result["at"] == "2022-11-23T08:00:00+08:00" and result["replications"] == 3
    assert result["checkins"]["used"] == 5
    assert {s["site_id"] for s in result["sites"]} == {"S1", "S2"}
    for site in result["sites"]:
        assert list(site)[:len(SITE_KEYS)] == SITE_KEYS
        assert 0.0 <= site["p_finish_in_window"] <= 1.0 and isinstance(site["late"], bool)
    planned = [r for r in client.get(f"/api/v1/plans/{plan_id}/assignments", params={"limit": 1000},
                                     headers=auth()).json()["data"] if r["mode"] == "site"]
    assert sum(s["remaining_people"] for s in result["sites"]) == sum(int(r["size"]) for r in planned) - people
    for grid in result["grids"]:
        assert {"grid", "expected_coverage", "p10", "p90"} <= set(grid)
        assert grid["p10"] <= grid["expected_coverage"] <= grid["p90"] + 1e-9
    assert result["late_sites"] == [s["site_id"] for s in result["sites"] if s["late"]]
    listed = client.get(f"/api/v1/plans/{plan_id}/forecasts", headers=auth()).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == job["forecast_id"]


def test_default_at_is_now_clamped_into_the_window(inline: TestClient, settings: Settings) -> None:
    """No `at`: now, which is after this 2022 window (12 hours), so its end; same seed, same result."""
    client = inline
    plan_id = _campaign(client, settings)
    ids = [client.post(f"/api/v1/plans/{plan_id}/forecasts", json={"replications": 2}, headers=auth()).json()
           ["forecast_id"] for _ in range(2)]
    a, b = (client.get(f"/api/v1/forecasts/{i}", headers=auth()).json() for i in ids)
    assert a["result"]["at"] == "2022-11-23T18:00:00+08:00" and a["at"] == "2022-11-23T10:00:00Z"
    assert a["result"] == b["result"]


def test_forecast_errors_and_roles(inline: TestClient, settings: Settings, make_key: Callable[..., str]) -> None:
    """A time outside the window is 422 and makes no job; unknown plans and forecasts 404; viewers read
    but cannot start; site keys cannot read."""
    client = inline
    plan_id = _campaign(client, settings)
    r = client.post(f"/api/v1/plans/{plan_id}/forecasts", json={"at": "2022-11-25T08:00:00+08:00"}, headers=auth())
    assert r.status_code == 422 and "outside the plan's window" in r.json()["detail"]
    r = client.post(f"/api/v1/plans/{plan_id}/forecasts", json={"at": 1700000000}, headers=auth())
    assert r.status_code == 422
    assert client.post(f"/api/v1/plans/{plan_id}/forecasts", json={"replications": 0}, headers=auth()).status_code == 422
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(select(Forecast.id)).first() is None
    assert client.post(f"/api/v1/plans/{plan_id + 9}/forecasts", json={}, headers=auth()).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id + 9}/forecasts", headers=auth()).status_code == 404
    assert client.get("/api/v1/forecasts/77", headers=auth()).status_code == 404
    viewer, site = make_key("viewer"), make_key("site", ["S1"])
    assert client.post(f"/api/v1/plans/{plan_id}/forecasts", json={}, headers=auth(viewer)).status_code == 403
    assert client.get(f"/api/v1/plans/{plan_id}/forecasts", headers=auth(viewer)).status_code == 200
    assert client.get(f"/api/v1/plans/{plan_id}/forecasts", headers=auth(site)).status_code == 403


def test_plan_without_scenario_cannot_be_forecast(client: TestClient, plan_id: int) -> None:
    r = client.post(f"/api/v1/plans/{plan_id}/forecasts", json={}, headers=auth())
    assert r.status_code == 409 and "scenario" in r.json()["detail"]


def test_deleting_a_plan_deletes_its_forecasts(inline: TestClient, settings: Settings) -> None:
    client = inline
    plan_id = _campaign(client, settings)
    fid = client.post(f"/api/v1/plans/{plan_id}/forecasts", json={"replications": 1}, headers=auth()).json()["forecast_id"]
    assert client.delete(f"/api/v1/plans/{plan_id}", headers=auth()).status_code == 200
    assert client.get(f"/api/v1/forecasts/{fid}", headers=auth()).status_code == 404


def test_upload_keeps_the_registrys_coordinate_system(inline: TestClient, settings: Settings) -> None:
    """`registry: {crs: gcj02}` in the parameters: the plan job reads the stored files as GCJ-02
    (Amap) and its sites are in WGS-84, as `sampler plan` gives for the same files."""
    from api.storage import read_plan_files
    from sampler.registry.crs import gcj02_to_wgs84

    client = inline
    plan_id = _campaign(client, settings, PARAMETERS + "registry: {crs: gcj02}\n")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    sites = read_plan_files(engine, plan_id).sites.set_index("site_id")
    lon, lat = (float(v[0]) for v in gcj02_to_wgs84(np.array([118.3205]), np.array([27.0302])))
    assert abs(float(sites.loc["S1", "lon"]) - lon) < 1e-6 and abs(float(sites.loc["S1", "lat"]) - lat) < 1e-6
    assert abs(float(sites.loc["S1", "lon"]) - 118.3205) > 1e-3  # converted, not taken as WGS-84


def test_forecast_leaves_out_households_follow_ups_closed(inline: TestClient, settings: Settings) -> None:
    """A household a grid worker found away is not expected at its site any more: the forecast's
    remaining people drop by its size (the newest outcome counts: "coming" keeps it expected)."""
    client = inline
    plan_id = _campaign(client, settings)
    _check_in_first(client, plan_id, 5)
    rows = client.get(f"/api/v1/plans/{plan_id}/assignments", params={"limit": 1000}, headers=auth()).json()["data"]
    later = sorted((r for r in rows if r["mode"] == "site"), key=lambda r: r["slot_end"])[-2:]

    def remaining() -> int:
        r = client.post(f"/api/v1/plans/{plan_id}/forecasts",
                        json={"at": "2022-11-23T08:00:00+08:00", "replications": 2, "seed": 1}, headers=auth())
        got = client.get(f"/api/v1/forecasts/{r.json()['forecast_id']}", headers=auth()).json()
        return sum(int(s["remaining_people"]) for s in got["result"]["sites"])

    before = remaining()
    r = client.post(f"/api/v1/plans/{plan_id}/followups", headers=auth(), json={"followups": [
        {"household_id": later[0]["household_id"], "outcome": "away"},
        {"household_id": later[1]["household_id"], "outcome": "refused"},
        {"household_id": later[1]["household_id"], "outcome": "coming"}]})
    assert r.status_code == 200 and r.json()["recorded"] == 3
    assert remaining() == before - int(later[0]["size"])
