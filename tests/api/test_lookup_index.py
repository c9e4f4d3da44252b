"""The in-memory lookup index (`api.lookupindex`): the same answer as the database for every
household of a plan, on SQLite and PostgreSQL; dropped when the plan is withdrawn or purged, so a
purged plan published again answers nobody; switched off, lookups read the database."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.lookupindex import LookupIndex
from api.main import create_app
from api.routers.lookup import _BY_CODE
from api.settings import Settings
from api.storage import store_plan
from tests.api.conftest import auth
from tests.api.plandir import HOUSEHOLDS, UNPLACED, code_of, plan_frames, plan_summary

FIELDS = ("household_id", "code", "site_id", "building_id", "unit", "room", "mode", "slot_start", "slot_end",
          "site", "building_name", "unplaced")


def test_index_rows_equal_the_sql_rows_for_every_household(engine: Engine) -> None:
    pid = store_plan(engine, plan_summary(), plan_frames())
    with engine.connect() as conn:
        index = LookupIndex(conn, pid)
        ids = [h[0] for h in HOUSEHOLDS] + [u[0] for u in UNPLACED]
        assert index.households == len(ids)
        for hid in ids:
            code = code_of(hid)
            sql = conn.execute(_BY_CODE, {"plan_id": pid, "key": code}).first()
            got = index.row(code)
            assert sql is not None and got is not None
            assert {f: getattr(got, f) for f in FIELDS} == {f: getattr(sql, f) for f in FIELDS}, hid
            phone = str(sql.phone or "")
            assert got.phone == (phone[-4:] if len(phone) >= 4 else "")  # never more than the 4 digits
        assert index.row("ZZZZZZZZ") is None and index.row("") is None and index.row("长码不对") is None


def _lookup(client: TestClient, hid: str, digits: str) -> int:
    return client.post("/api/v1/lookup", json={"code": code_of(hid), "phone_last4": digits}).status_code


def test_withdrawn_or_purged_plans_leave_the_index(settings: Settings) -> None:
    """Lookups answer from the index; withdrawing the plan drops it (404), publishing again
    rebuilds it; after the scenario's purge (phones erased) the plan published again answers nobody."""
    from api.purge import purge_scenario

    with TestClient(create_app(settings)) as client:
        app = client.app
        engine = app.state.engine  # type: ignore[attr-defined]
        sid, pid = _campaign_plan(client)
        assert _lookup(client, "H001", "5678") == 200
        cache = app.state.published.indexes  # type: ignore[attr-defined]
        assert [k[0] for k, v in cache._indexes.items() if v is not None] == [pid]
        assert client.post(f"/api/v1/plans/{pid}/publish", params={"published": "false"}, headers=auth()).status_code == 200
        assert _lookup(client, "H001", "5678") == 404
        assert not cache._indexes
        assert client.post(f"/api/v1/plans/{pid}/publish", headers=auth()).status_code == 200
        assert _lookup(client, "H001", "5678") == 200
        assert purge_scenario(engine, sid) is not None
        app.state.published.invalidate()  # type: ignore[attr-defined]
        assert client.post(f"/api/v1/plans/{pid}/publish", headers=auth()).status_code == 200
        assert _lookup(client, "H001", "5678") == 404  # the phones are gone


def test_switched_off_lookups_read_the_database(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"lookup_index_households": 0}))) as client:
        pid = store_plan(client.app.state.engine, plan_summary(), plan_frames())  # type: ignore[attr-defined]
        assert client.post(f"/api/v1/plans/{pid}/publish", headers=auth()).status_code == 200
        assert _lookup(client, "H001", "5678") == 200 and _lookup(client, "H001", "0000") == 404
        assert not client.app.state.published.indexes._indexes  # type: ignore[attr-defined]


def test_large_plans_are_indexed_in_the_background(engine: Engine, monkeypatch: object) -> None:
    """Above INLINE_HOUSEHOLDS the first call answers None (the database serves) and starts a
    build; the index then appears, and a plan too large for the setting is never indexed."""
    import time

    import api.lookupindex as li

    monkeypatch.setattr(li, "INLINE_HOUSEHOLDS", 0)  # type: ignore[attr-defined]
    pid = store_plan(engine, plan_summary(), plan_frames())
    cache = li.IndexCache(max_households=100)
    key = (pid, None)
    assert cache.get(engine, key, 10) is None
    deadline = time.monotonic() + 30
    while cache.get(engine, key, 10) is None:
        assert time.monotonic() < deadline, "the background build did not finish"
        time.sleep(0.05)
    assert cache.get(engine, key, 10).row(code_of("H001")).household_id == "H001"  # type: ignore[union-attr]
    assert cache.get(engine, (pid, "other"), 101) is None and (pid, "other") not in cache._indexes
    cache.keep(set())
    assert not cache._indexes


def test_a_purge_in_another_process_is_never_answered_from_the_index(settings: Settings) -> None:
    """Another worker purged the campaign (this process was not told): once the published plans
    are older than the TTL the index is not used, so the erased phones answer nobody, even
    before the background refresh has dropped the index."""
    import time

    from api.purge import purge_scenario

    with TestClient(create_app(settings)) as client:
        sid, pid = _campaign_plan(client)
        published = client.app.state.published  # type: ignore[attr-defined]
        assert _lookup(client, "H001", "5678") == 200
        purge_scenario(client.app.state.engine, sid)  # type: ignore[attr-defined]
        published._at = time.monotonic() - 10 * published.ttl  # stale; the refresh starts in the background
        assert _lookup(client, "H001", "5678") == 404


def _campaign_plan(client: TestClient) -> tuple[int, int]:
    """A scenario row and the hand-made plan of it, published: (scenario id, plan id)."""
    from sqlalchemy import update

    from api.models import Plan, Scenario

    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        sid = conn.execute(Scenario.__table__.insert().values(  # type: ignore[attr-defined]
            name="s", area="幸福街道", parameters="{}")).inserted_primary_key[0]
    pid = store_plan(engine, plan_summary(), plan_frames())
    with engine.begin() as conn:
        conn.execute(update(Plan).where(Plan.id == pid).values(scenario_id=sid))
    assert client.post(f"/api/v1/plans/{pid}/publish", headers=auth()).status_code == 200
    return int(sid), pid
