"""Coverage over time (GET /plans/{id}/coverage): due and sampled people per group at every step,
from the check-ins' own times; agrees with /status at the last point; roles as /status."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.test_day_api import CODES, _checkin


def _series(client: TestClient, plan_id: int, query: str, key: str | None = None) -> dict:
    r = client.get(f"/api/v1/plans/{plan_id}/coverage?{query}", headers=auth(key) if key else auth())
    assert r.status_code == 200, r.text
    return r.json()


def test_coverage_by_grid_over_time_counts_check_ins_when_they_happened(client: TestClient, plan_id: int) -> None:
    """Hourly points from the window start: due follows the slots, sampled the check-ins' times."""
    _checkin(client, plan_id, [
        {"id": "a", "code": CODES["H001"], "site_id": "S1", "at": "2022-11-23T08:10:00+08:00", "people": 3},
        {"id": "b", "household_id": "H005", "site_id": "S1", "at": "2022-11-23T09:05:00+08:00"},  # planned at S2
    ])
    body = _series(client, plan_id, "by=grid&step=60&at=2022-11-23T10:00:00%2B08:00")
    assert body["by"] == "grid" and body["step_minutes"] == 60
    assert [t[11:16] for t in body["times"]] == ["22:00", "23:00", "00:00", "01:00", "02:00"]  # 06:00-10:00 CST in UTC
    g = {r["key"]: r for r in body["data"]}
    assert g["G1"]["planned_people"] == 15 and g["G2"]["planned_people"] == 5
    # G1: H001-H003 (6 people) due at 08:30, H004 (4) at 09:00, H005-H006 (4) at 09:30
    assert g["G1"]["due_people"] == [0, 0, 0, 10, 14]
    assert g["G1"]["sampled_people"] == [0, 0, 0, 3, 5]
    assert g["G1"]["coverage"][-1] == round(5 / 15, 4)
    assert g["G2"]["due_people"] == [0] * 5 and g["G2"]["sampled_people"] == [0] * 5
    # the last point agrees with /status at the same time
    status = client.get(f"/api/v1/plans/{plan_id}/status?by=grid&at=2022-11-23T10:00:00%2B08:00", headers=auth()).json()
    for row in status["data"]:
        assert (g[row["key"]]["due_people"][-1], g[row["key"]]["sampled_people"][-1]) == (
            row["due_people"], row["sampled_people"])
    # by site: counted where each check-in happened; an `at` between steps is the last point
    sites = _series(client, plan_id, "by=site&step=30&at=2022-11-23T09:10:00%2B08:00")
    assert len(sites["times"]) == 8 and sites["times"][-1].endswith("01:10:00Z")
    s = {r["key"]: r for r in sites["data"]}
    assert s["S1"]["sampled_people"][-3:] == [3, 3, 5] and s["S2"]["sampled_people"][-1] == 0
    assert s["home"]["planned_people"] == 1 + 2  # H007 (home visit) and H009 (unplaced)


def test_coverage_before_the_window_and_after_it(client: TestClient, plan_id: int) -> None:
    """Before the window there are no points; after it the points stop at the window's end and
    unplaced households are due there."""
    early = _series(client, plan_id, "by=area&at=2022-11-22T12:00:00%2B08:00")
    assert early["times"] == [] and early["data"][0]["due_people"] == []
    late = _series(client, plan_id, "by=area&step=240&at=2022-11-25T00:00:00%2B08:00")
    assert len(late["times"]) == 7 and late["times"][-1] == "2022-11-23T22:00:00Z"  # 24 h window, 06:00 + 6 × 4 h
    assert late["data"][0]["due_people"][-1] == late["data"][0]["planned_people"] == 20


def test_coverage_roles_and_bad_queries(client: TestClient, plan_id: int, make_key: Callable[..., str]) -> None:
    """Grid keys read their grids by grid, site keys their sites by site; bad steps and groups are 422."""
    grid = make_key("grid", grids=["G2"])
    assert [r["key"] for r in _series(client, plan_id, "by=grid", grid)["data"]] == ["G2"]
    site = make_key("site", ["S1"])
    assert [r["key"] for r in _series(client, plan_id, "by=site", site)["data"]] == ["S1"]
    assert client.get(f"/api/v1/plans/{plan_id}/coverage?by=site", headers=auth(grid)).status_code == 403
    assert client.get(f"/api/v1/plans/{plan_id}/coverage?by=grid", headers=auth(site)).status_code == 403
    for query in ("by=building", "step=1", "step=1000", "at=yesterday"):
        assert client.get(f"/api/v1/plans/{plan_id}/coverage?{query}", headers=auth()).status_code == 422, query
    assert client.get(f"/api/v1/plans/{plan_id + 9}/coverage", headers=auth()).status_code == 404
    assert client.get(f"/api/v1/plans/{plan_id}/coverage").status_code == 401
