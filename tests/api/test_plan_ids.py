"""Plan ids are never reused and a plan's simulations go with it; publish racing delete of the
same plan answers success or 404, never 500 (50 concurrent pairs against a live server)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, insert, select

from api.db import make_engine
from api.models import Plan, Simulation, SimulationFile
from api.storage import delete_plan, store_plan
from tests.api.conftest import PLANNER_KEY
from tests.api.plandir import plan_frames, plan_summary
from tests.api.test_live_server import Server


def _simulate(engine: Engine, plan_id: int) -> int:
    with engine.begin() as conn:
        sim = conn.execute(insert(Simulation).values(plan_id=plan_id, seed=1, replications=1, summary="{}")
                           .returning(Simulation.id)).scalar_one()
        conn.execute(insert(SimulationFile).values(simulation_id=sim, name="summary.json", content=b"{}"))
    return int(sim)


def test_deleted_plan_id_is_not_reused_and_its_simulations_go(engine: Engine) -> None:
    """After deleting the newest plan, the next plan gets a new id and no simulations."""
    first = store_plan(engine, plan_summary(), plan_frames())
    sim = _simulate(engine, first)
    with engine.begin() as conn:
        delete_plan(conn, first)
    second = store_plan(engine, plan_summary(), plan_frames())
    assert second > first
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Simulation)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(SimulationFile)).scalar_one() == 0
    assert _simulate(engine, second) > sim


def test_simulations_cascade_with_their_plan_row(engine: Engine) -> None:
    """The foreign key removes a plan's simulations even when only the plan row is deleted."""
    from sqlalchemy import delete

    plan = store_plan(engine, plan_summary(), plan_frames())
    _simulate(engine, plan)
    with engine.begin() as conn:
        conn.execute(delete(Plan).where(Plan.id == plan))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Simulation)).scalar_one() == 0


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A running service on the test database."""
    s = Server(database_url, tmp_path / "data")
    s.start()
    yield s
    s.stop()


def test_publish_racing_delete_is_never_a_server_error(server: Server) -> None:
    """50 plans, each published and deleted at the same moment: 200 or 404, and every plan is gone."""
    engine = make_engine(server.env["SAMPLER_DATABASE_URL"])
    try:
        ids = [store_plan(engine, plan_summary(), plan_frames()) for _ in range(50)]
    finally:
        engine.dispose()
    limits = httpx.Limits(max_connections=40)
    with httpx.Client(base_url=server.url, headers={"X-API-Key": PLANNER_KEY}, timeout=60, limits=limits) as c:

        def call(job: tuple[str, int]) -> int:
            kind, plan_id = job
            r = c.post(f"/api/v1/plans/{plan_id}/publish") if kind == "publish" else c.delete(f"/api/v1/plans/{plan_id}")
            return r.status_code

        jobs = [(kind, pid) for pid in ids for kind in ("publish", "delete")]
        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(call, jobs))
        deletes = [code for (kind, _), code in zip(jobs, codes, strict=True) if kind == "delete"]
        publishes = [code for (kind, _), code in zip(jobs, codes, strict=True) if kind == "publish"]
        assert deletes == [200] * 50
        assert set(publishes) <= {200, 404}
        assert c.get("/api/v1/plans").json()["count"] == 0
        assert c.post("/api/v1/lookup", json={"code": "ABCD2345", "phone_last4": "0000"}).status_code == 404
