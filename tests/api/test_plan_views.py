"""Plan read endpoints: summary, hourly site load, building slots, paged and filtered assignments."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.plandir import AREA, HOUSEHOLDS


def test_summary_is_plan_json(client: TestClient, plan_id: int) -> None:
    """GET /plans/{id} returns plan.json as stored, and the plan is listed."""
    r = client.get(f"/api/v1/plans/{plan_id}", headers=auth())
    assert r.status_code == 200
    body = r.json()
    assert body["area"] == AREA and body["summary"]["placed_households"] == len(HOUSEHOLDS)
    assert body["published"] is True
    listed = client.get("/api/v1/plans", headers=auth()).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == plan_id


def test_hourly_load_sums_the_slots(client: TestClient, plan_id: int) -> None:
    """Hourly load adds the two half-hour slots; per-slot load is returned unsummed."""
    hourly = client.get(f"/api/v1/plans/{plan_id}/site-load?site_id=S1&limit=1000", headers=auth()).json()
    at8 = [x for x in hourly["data"] if x["start"] == "2022-11-23 08:00"]
    assert at8 == [{"site_id": "S1", "start": "2022-11-23 08:00", "people": 3 + 2 + 1 + 4, "capacity": 80}]
    assert hourly["count"] == 6
    slots = client.get(f"/api/v1/plans/{plan_id}/site-load?site_id=S1&hourly=false&limit=1000",
                       headers=auth()).json()
    assert slots["count"] == 12
    assert sum(x["people"] for x in slots["data"]) == 10


def test_building_slots_filter(client: TestClient, plan_id: int) -> None:
    """Building slots filter by building and carry the building's name and counts."""
    r = client.get(f"/api/v1/plans/{plan_id}/buildings?building_id=B1", headers=auth()).json()
    assert r["count"] == 2
    assert {(b["slot_start"][-5:], b["households"], b["people"]) for b in r["data"]} == {("08:00", 3, 6), ("08:30", 1, 4)}
    assert all(b["name"] == "3号楼" for b in r["data"])


def test_assignments_page_and_filter(client: TestClient, plan_id: int) -> None:
    """Assignments page with limit/offset in file order and filter by site, building and slot."""
    base = f"/api/v1/plans/{plan_id}/assignments"
    first = client.get(f"{base}?limit=3", headers=auth()).json()
    second = client.get(f"{base}?limit=3&offset=3", headers=auth()).json()
    assert first["count"] == second["count"] == len(HOUSEHOLDS)
    ids = [a["household_id"] for a in first["data"] + second["data"]]
    assert ids == [h[0] for h in HOUSEHOLDS[:6]]
    by_slot = client.get(f"{base}?slot_start=2022-11-23 09:00", headers=auth()).json()
    assert [a["household_id"] for a in by_slot["data"]] == ["H005", "H006"]
    combined = client.get(f"{base}?site_id=S1&building_id=B1&slot_start=2022-11-23 08:30", headers=auth()).json()
    assert [a["household_id"] for a in combined["data"]] == ["H004"]
    assert client.get(f"{base}?limit=0", headers=auth()).status_code == 422


def test_home_visits_and_unplaced(client: TestClient, plan_id: int) -> None:
    """Home visits list the team and slot; unplaced lists the reason."""
    home = client.get(f"/api/v1/plans/{plan_id}/home-visits", headers=auth()).json()
    assert [(h["household_id"], h["team"], h["slot_start"][-5:]) for h in home["data"]] == [("H007", 1, "10:00")]
    un = client.get(f"/api/v1/plans/{plan_id}/unplaced", headers=auth()).json()
    assert [(u["household_id"], u["reason"]) for u in un["data"]] == [("H009", "no capacity")]


def test_unknown_plan_is_404(client: TestClient, plan_id: int) -> None:
    """A plan id that does not exist gives 404 on every view."""
    for view in ("", "/assignments", "/buildings", "/site-load", "/home-visits", "/unplaced"):
        assert client.get(f"/api/v1/plans/{plan_id + 99}{view}", headers=auth()).status_code == 404


def test_delete_plan(client: TestClient, plan_id: int) -> None:
    """A planner deletes a plan; it is gone from the list and its views."""
    assert client.delete(f"/api/v1/plans/{plan_id}", headers=auth()).status_code == 200
    assert client.get(f"/api/v1/plans/{plan_id}/assignments", headers=auth()).status_code == 404
    assert client.get("/api/v1/plans", headers=auth()).json()["count"] == 0
