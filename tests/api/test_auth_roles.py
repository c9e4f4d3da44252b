"""Access control: every role against every kind of endpoint; keys stored hashed; revocation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import ApiKey
from tests.api.conftest import PLANNER_KEY, auth

READS = ["/api/v1/plans", "/api/v1/plans/{p}", "/api/v1/plans/{p}/buildings", "/api/v1/plans/{p}/assignments",
         "/api/v1/plans/{p}/site-load"]
PLANNER_VIEWER = ["/api/v1/scenarios", "/api/v1/plans/{p}/home-visits", "/api/v1/plans/{p}/unplaced",
                  "/api/v1/plans/{p}/exports/notices.xlsx", "/api/v1/plans/{p}/exports/notices/B1.html",
                  "/api/v1/jobs"]
PLANNER_ONLY = ["/api/v1/plans/{p}/exports/sms.csv", "/api/v1/plans/{p}/exports/sms-invalid.csv", "/api/v1/keys"]


def _codes(client: TestClient, key: str | None, paths: list[str], plan_id: int) -> set[int]:
    headers = auth(key) if key else {}
    return {client.get(p.format(p=plan_id), headers=headers).status_code for p in paths}


def test_anonymous_gets_401_everywhere(client: TestClient, plan_id: int) -> None:
    """Without a key every non-public endpoint answers 401."""
    assert _codes(client, None, READS + PLANNER_VIEWER + PLANNER_ONLY, plan_id) == {401}
    assert _codes(client, "smp_1_not-the-right-secret-xx", READS, plan_id) == {401}


def test_planner_reads_everything(client: TestClient, plan_id: int) -> None:
    """The planner role reads every endpoint."""
    assert _codes(client, PLANNER_KEY, READS + PLANNER_VIEWER + PLANNER_ONLY, plan_id) == {200}


def test_viewer_reads_plans_but_not_sms_or_keys(client: TestClient, plan_id: int,
                                                make_key: Callable[..., str]) -> None:
    """A viewer reads plans and notices but not the SMS list (phones) or keys, and cannot write."""
    key = make_key("viewer")
    assert _codes(client, key, READS + PLANNER_VIEWER, plan_id) == {200}
    assert _codes(client, key, PLANNER_ONLY, plan_id) == {403}
    assert client.post("/api/v1/plans", json={"scenario_id": 1}, headers=auth(key)).status_code == 403
    assert client.delete(f"/api/v1/plans/{plan_id}", headers=auth(key)).status_code == 403
    assert client.post("/api/v1/keys", json={"role": "planner"}, headers=auth(key)).status_code == 403


def test_site_key_sees_only_its_sites(client: TestClient, plan_id: int, make_key: Callable[..., str]) -> None:
    """A site key reads load, buildings and assignments of its own site only."""
    key = make_key("site", ["S1"])
    r = client.get(f"/api/v1/plans/{plan_id}/assignments", headers=auth(key))
    assert r.status_code == 200
    assert {a["site_id"] for a in r.json()["data"]} == {"S1"} and r.json()["count"] == 4
    loads = client.get(f"/api/v1/plans/{plan_id}/site-load", headers=auth(key)).json()["data"]
    assert {x["site_id"] for x in loads} == {"S1"}
    buildings = client.get(f"/api/v1/plans/{plan_id}/buildings", headers=auth(key)).json()["data"]
    assert {b["site_id"] for b in buildings} == {"S1"}
    for path in (f"/api/v1/plans/{plan_id}/assignments?site_id=S2", f"/api/v1/plans/{plan_id}/site-load?site_id=S2"):
        assert client.get(path, headers=auth(key)).status_code == 403
    assert _codes(client, key, PLANNER_VIEWER + PLANNER_ONLY, plan_id) == {403}


def test_site_key_needs_sites(client: TestClient) -> None:
    """Creating a site key without sites is a 422."""
    r = client.post("/api/v1/keys", json={"role": "site", "sites": []}, headers=auth())
    assert r.status_code == 422


def test_keys_are_stored_hashed_and_revocable(client: TestClient, plan_id: int,
                                              make_key: Callable[..., str]) -> None:
    """The database holds no key secret, and a revoked key stops working."""
    token = make_key("viewer")
    key_id = int(token.split("_")[1])
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalars(select(ApiKey)).all()
        stored = " ".join(f"{k.salt} {k.key_hash} {k.name}" for k in rows)
    assert token.split("_", 2)[2] not in stored and PLANNER_KEY not in stored
    assert client.get("/api/v1/plans", headers=auth(token)).status_code == 200
    assert client.delete(f"/api/v1/keys/{key_id}", headers=auth()).status_code == 200
    assert client.get("/api/v1/plans", headers=auth(token)).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/plans/{p}/assignments", "/api/v1/plans/{p}/home-visits",
                                  "/api/v1/plans/{p}/unplaced"])
def test_phones_are_masked_outside_the_sms_export(client: TestClient, plan_id: int, path: str) -> None:
    """Lists that show a phone show its first 3 digits only: never the 4 digits the lookup checks."""
    data = client.get(path.format(p=plan_id), headers=auth()).json()["data"]
    phones = [row["phone"] for row in data if row["phone"]]
    assert phones and all(p == "****" or (p[:3].isdigit() and set(p[3:]) == {"*"}) for p in phones)
    assert "13812345678" not in str(data) and "13712340007" not in str(data)
    assert "5678" not in str(data) and "0007" not in str(data) and "0009" not in str(data)
