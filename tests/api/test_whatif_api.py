"""What-if runs through the API: bounded requests, roles, and a real sweep in a job worker whose
levels and summary come back as JSON (the rows of whatif.csv, summary.json)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.registry_files import PARAMETERS, buildings_csv, households_csv, sites_csv


def _wait(client: TestClient, job: dict) -> dict:
    deadline = time.monotonic() + 240
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = client.get(f"/api/v1/jobs/{job['id']}", headers=auth()).json()
    return job


def _planned(client: TestClient) -> int:
    files = {"households": ("households.csv", households_csv()), "buildings": ("buildings.csv", buildings_csv()),
             "sites": ("sites.csv", sites_csv())}
    r = client.post("/api/v1/scenarios", files=files, data={"parameters": PARAMETERS}, headers=auth())
    assert r.status_code == 201, r.text
    job = _wait(client, client.post("/api/v1/plans", json={"scenario_id": r.json()["id"]}, headers=auth()).json())
    assert job["status"] == "succeeded", job["error"]
    return int(job["plan_id"])


def test_whatif_requests_are_bounded_and_need_a_stored_scenario(client: TestClient, plan_id: int,
                                                                make_key: Callable[..., str]) -> None:
    """Unknown plans 404, plans without a scenario 409; viewers read but do not start runs."""
    assert client.post(f"/api/v1/plans/{plan_id + 5}/whatif", json={}, headers=auth()).status_code == 404
    r = client.post(f"/api/v1/plans/{plan_id}/whatif", json={}, headers=auth())
    assert r.status_code == 409 and "scenario" in r.json()["detail"]
    viewer, site = make_key("viewer"), make_key("site", ["S1"])
    assert client.post(f"/api/v1/plans/{plan_id}/whatif", json={}, headers=auth(viewer)).status_code == 403
    assert client.get("/api/v1/whatifs", headers=auth(viewer)).json() == {"data": [], "count": 0}
    assert client.get("/api/v1/whatifs", headers=auth(site)).status_code == 403
    assert client.get("/api/v1/whatifs/1", headers=auth()).status_code == 404
    for body in ({"replications": 21}, {"replications": 0}, {"mode": "guess"}, {"minus_one_sites": 6}):
        assert client.post(f"/api/v1/plans/{plan_id}/whatif", json=body, headers=auth()).status_code == 422, body


def test_whatif_ranges_are_checked_before_a_job_is_made(client: TestClient) -> None:
    """A bad axis or range, or a grid of more than 24 levels, is a 422 naming the field and the fix."""
    plan_id = _planned(client)
    cases = {"chairs": "1,2", "tables": "1.5:0.5:0.1"}
    for axis, text in cases.items():
        r = client.post(f"/api/v1/plans/{plan_id}/whatif", json={"ranges": {axis: text}}, headers=auth())
        assert r.status_code == 422, r.text
        issue = r.json()["detail"][0]
        assert issue["file"] == "request body" and issue["field"] == f"ranges.{axis}" and issue["fix"]
    r = client.post(f"/api/v1/plans/{plan_id}/whatif", headers=auth(),
                    json={"ranges": {"tables": "0.5:1.5:0.1", "home_teams": "1,2,3"}})
    assert r.status_code == 422 and "33 levels" in r.json()["detail"][0]["fix"]
    assert client.get("/api/v1/jobs?limit=100", headers=auth()).json()["count"] == 1  # only the plan job


def test_whatif_sweep_runs_in_a_worker_and_returns_levels_and_summary(client: TestClient) -> None:
    """A 2-level sweep with 2 replications: one row per level (staff, P(window), p95 wait), the summary."""
    plan_id = _planned(client)
    job = client.post(f"/api/v1/plans/{plan_id}/whatif", headers=auth(),
                      json={"ranges": {"tables": "1,2"}, "mode": "sweep", "replications": 2, "seed": 3}).json()
    assert job["status"] in ("queued", "running")
    job = _wait(client, job)
    assert job["status"] == "succeeded", job["error"]
    runs = client.get(f"/api/v1/whatifs?plan_id={plan_id}", headers=auth()).json()
    assert runs["count"] == 1
    run = client.get(f"/api/v1/whatifs/{runs['data'][0]['id']}", headers=auth()).json()
    assert run["plan_id"] == plan_id and run["seed"] == 3 and run["replications"] == 2
    assert run["params"]["ranges"] == {"tables": "1,2"}
    assert [lv["axis_tables"] for lv in run["levels"]] == [1.0, 2.0]
    for lv in run["levels"]:
        assert lv["step"] == "sweep" and lv["replications"] == 2 and 0 <= lv["target_probability"] <= 1
        assert {"staff", "wait_p95_min", "meets_target", "tables", "unplaced_households"} <= set(lv)
    assert run["levels"][1]["tables"] == 2 * run["levels"][0]["tables"]
    s = run["summary"]
    assert s["mode"] == "sweep" and s["levels_evaluated"] == 2 and s["simulations_run"] == 4
    assert "minimum" in s and "found" in s["minimum"]
