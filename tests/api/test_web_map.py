"""The console's map data: sites with planned people and capacity, roles, unknown plans."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import auth
from tests.api.plandir import plan_frames


def test_map_sites_carry_the_plans_load_and_buildings_need_a_scenario(client: TestClient, plan_id: int) -> None:
    r = client.get(f"/api/v1/web/plans/{plan_id}/map", headers=auth())
    assert r.status_code == 200
    body = r.json()
    load = plan_frames()["site_load"]
    expected = {s: (int(g["people"].sum()), int(g["capacity"].sum())) for s, g in load.groupby("site_id")}
    assert {s["site_id"]: (s["people"], s["capacity"]) for s in body["sites"]} == expected
    assert [(s["lon"], s["lat"]) for s in body["sites"]] == [(118.32, 27.03), (118.33, 27.04)]
    assert body["buildings"] == [] and body["buildings_total"] == 0  # stored without a scenario: no coordinates


def test_map_roles_and_unknown_plan(client: TestClient, plan_id: int, make_key: Callable[..., str]) -> None:
    assert client.get(f"/api/v1/web/plans/{plan_id}/map").status_code == 401
    assert client.get(f"/api/v1/web/plans/{plan_id}/map", headers=auth(make_key("viewer"))).status_code == 200
    assert client.get(f"/api/v1/web/plans/{plan_id}/map", headers=auth(make_key("site", ["S1"]))).status_code == 403
    assert client.get(f"/api/v1/web/plans/{plan_id}/map", headers=auth(make_key("grid", grids=["G1"]))).status_code == 403
    assert client.get("/api/v1/web/plans/999999/map", headers=auth()).status_code == 404
