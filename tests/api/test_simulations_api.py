"""Simulation endpoints without running the simulator: access, missing plans, plans without scenario."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import auth


def test_simulation_needs_a_plan_from_a_stored_scenario(client: TestClient, plan_id: int) -> None:
    """Unknown plans are 404; a plan stored without its scenario cannot be simulated (409)."""
    assert client.post(f"/api/v1/plans/{plan_id + 5}/simulations", json={}, headers=auth()).status_code == 404
    r = client.post(f"/api/v1/plans/{plan_id}/simulations", json={"seed": 1}, headers=auth())
    assert r.status_code == 409 and "scenario" in r.json()["detail"]
    assert client.get("/api/v1/simulations", headers=auth()).json() == {"data": [], "count": 0}
    assert client.get("/api/v1/simulations/1", headers=auth()).status_code == 404


def test_simulation_roles(client: TestClient, plan_id: int, make_key: Callable[..., str]) -> None:
    """Viewers read simulations but cannot start one; site keys cannot read them."""
    viewer, site = make_key("viewer"), make_key("site", ["S1"])
    assert client.get("/api/v1/simulations", headers=auth(viewer)).status_code == 200
    assert client.post(f"/api/v1/plans/{plan_id}/simulations", json={}, headers=auth(viewer)).status_code == 403
    assert client.get("/api/v1/simulations", headers=auth(site)).status_code == 403
    r = client.post(f"/api/v1/plans/{plan_id}/simulations", json={"replications": 0}, headers=auth())
    assert r.status_code == 422
