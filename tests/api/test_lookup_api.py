"""Resident lookup: own slot only, one uniform 404 for any mismatch, rate limit per client; lookups by
registry id only with a staff key, counted by the same per-household lockout."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from api.main import create_app
from api.routers.lookup import NOT_FOUND
from api.settings import Settings
from tests.api.conftest import PLANNER_KEY, auth
from tests.api.plandir import code_of


def _ask(client: TestClient, household: str, digits: str, **extra: object) -> tuple[int, dict[str, object]]:
    """A resident's lookup: the household's code (from its SMS) and the digits."""
    r = client.post("/api/v1/lookup", json={"code": code_of(household), "phone_last4": digits, **extra})
    return r.status_code, r.json()


def test_match_returns_only_the_households_slot(client: TestClient, plan_id: int) -> None:
    """Code + last 4 digits return site, address, slot and instruction, and nothing more."""
    code, body = _ask(client, "H001", "5678")
    assert code == 200
    assert set(body) == {"household_id", "site", "address", "mode", "slot_start", "slot_end", "instruction"}
    assert body["site"] == "二中操场采样点" and body["address"] == "3号楼2单元501"
    assert body["slot_start"] == "2022-11-23 08:00" and body["slot_end"] == "2022-11-23 08:30"
    assert "11月23日 08:00-08:30" in str(body["instruction"])
    assert "1381234" not in str(body) and "张三" not in str(body)


def test_home_visit_and_unplaced_answers(client: TestClient, plan_id: int) -> None:
    """A home-visit household is told to wait at home; an unplaced one that a grid worker will call."""
    code, body = _ask(client, "H007", "0007")
    assert code == 200 and body["mode"] == "home" and "上门" in str(body["instruction"])
    code, body = _ask(client, "H009", "0009")
    assert code == 200 and body["mode"] == "unplaced" and body["slot_start"] == ""


def test_every_mismatch_is_the_same_404(client: TestClient, plan_id: int) -> None:
    """Wrong digits, unknown household, missing phone and unknown plan all give the identical answer."""
    answers = [_ask(client, "H001", "0000"), _ask(client, "H404", "5678"), _ask(client, "H003", "0000"),
               _ask(client, "H001", "5678", plan_id=plan_id + 7)]
    assert {code for code, _ in answers} == {404}
    assert len({str(body) for _, body in answers}) == 1


def test_unpublished_plan_answers_nobody(client: TestClient, plan_id: int) -> None:
    """Withdrawing the plan makes lookups 404 until a plan is published again."""
    assert client.post(f"/api/v1/plans/{plan_id}/publish?published=false", headers=auth()).status_code == 200
    assert _ask(client, "H001", "5678")[0] == 404
    assert client.post(f"/api/v1/plans/{plan_id}/publish", headers=auth()).status_code == 200
    assert _ask(client, "H001", "5678")[0] == 200


def test_malformed_digits_are_422(client: TestClient, plan_id: int) -> None:
    """The phone digits must be exactly four digits."""
    assert _ask(client, "H001", "56a8")[0] == 422
    assert _ask(client, "H001", "678")[0] == 422


def test_rate_limit_gives_429_with_retry_after(settings: Settings, plan_id: int) -> None:
    """Past the per-minute limit a client gets 429 with Retry-After, even for correct answers."""
    limited = settings.model_copy(update={"lookup_per_minute": 3})
    with TestClient(create_app(limited)) as c:
        codes = [c.post("/api/v1/lookup", json={"code": code_of("H001"), "phone_last4": "0000"}).status_code
                 for _ in range(3)]
        r = c.post("/api/v1/lookup", json={"code": code_of("H001"), "phone_last4": "5678"})
    assert codes == [404, 404, 404]
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "retry" in r.json()["detail"]


def _staff(client: TestClient, household: str, digits: str, key: str | None) -> int:
    headers = auth(key) if key else {}
    return client.post("/api/v1/lookup", json={"household_id": household, "phone_last4": digits},
                       headers=headers).status_code


def test_household_id_needs_a_staff_key(client: TestClient, plan_id: int, make_key: Callable[..., str]) -> None:
    """Registry ids are never taken on the anonymous path (401, nothing read); viewer and grid keys
    get 403; a planner key reads any household, a site key only those planned at its sites."""
    r = client.post("/api/v1/lookup", json={"household_id": "H001", "phone_last4": "5678"})
    assert r.status_code == 401 and "code" in r.json()["detail"]
    assert _staff(client, "H001", "5678", f"smp_1_{'x' * 24}") == 401  # a wrong key is a wrong key
    assert _staff(client, "H001", "5678", make_key("viewer")) == 403
    assert _staff(client, "H001", "5678", make_key("grid", grids=["G1"])) == 403
    assert _staff(client, "H001", "5678", PLANNER_KEY) == 200
    assert _staff(client, "H009", "0009", PLANNER_KEY) == 200  # unplaced: planners only
    site = make_key("site", sites=["S1", "home"])
    assert _staff(client, "H001", "5678", site) == 200  # planned at S1
    assert _staff(client, "H007", "0007", site) == 200  # a home visit
    miss = client.post("/api/v1/lookup", json={"household_id": "H006", "phone_last4": "0006"},
                       headers=auth(site))
    assert miss.status_code == 404 and miss.json()["detail"] == NOT_FOUND  # at S2: not this key's
    assert _staff(client, "H009", "0009", site) == 404
    assert _staff(client, "H009", "0009", make_key("site", sites=["S2"])) == 404


def test_codes_and_household_ids_share_one_lockout(settings: Settings, plan_id: int) -> None:
    """Wrong answers by code and by household id add up on one household; its lock then holds for
    the resident and for staff, right digits included, and leaves other households alone."""
    with TestClient(create_app(settings.model_copy(update={"lookup_household_failures": 5}))) as c:
        by_code = [c.post("/api/v1/lookup", json={"code": code_of("H002"), "phone_last4": f"9{i:03d}"}).status_code
                   for i in range(3)]
        by_id = [_staff(c, "H002", f"8{i:03d}", PLANNER_KEY) for i in range(2)]
        assert by_code + by_id == [404] * 5
        assert c.post("/api/v1/lookup", json={"code": code_of("H002"), "phone_last4": "0002"}).status_code == 404
        assert _staff(c, "H002", "0002", PLANNER_KEY) == 404
        assert c.post("/api/v1/lookup", json={"code": code_of("H001"), "phone_last4": "5678"}).status_code == 200
        assert _staff(c, "H001", "5678", PLANNER_KEY) == 200
    with TestClient(create_app(settings.model_copy(update={"lookup_household_failures": 5}))) as c:
        wrong = [_staff(c, "H004", f"7{i:03d}", PLANNER_KEY) for i in range(5)]  # staff first, then the resident
        assert wrong == [404] * 5
        assert c.post("/api/v1/lookup", json={"code": code_of("H004"), "phone_last4": "0004"}).status_code == 404
