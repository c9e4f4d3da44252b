"""Check-ins from many threads of two "worker processes" (two day caches) at once: every worker's
ledger ends equal to the database, nothing is counted twice, and on PostgreSQL — where rows can
commit out of ``seq`` order unless writers take the plan's lock — no worker misses a row, and a
household's people are never over-counted by concurrent batches (on SQLite too, where a writer
takes the write lock before it validates)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from api.day import DayCache, store_checkins
from api.models import Checkin
from api.storage import store_plan
from sampler.day.codes import resident_codes
from tests.api.conftest import CODE_SECRET
from tests.api.test_day_live import AREA, N, _plan_frames

THREADS = 4
BATCHES = 30
BATCH = 20


def test_two_workers_many_threads_agree_with_the_database(engine: Engine) -> None:
    summary = {"area": AREA, "households": N, "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}}
    plan_id = store_plan(engine, summary, _plan_frames())
    codes = resident_codes(AREA, [f"H{i:05d}" for i in range(N)], CODE_SECRET.encode())
    caches = [DayCache(CODE_SECRET.encode()), DayCache(CODE_SECRET.encode())]
    states = [c.state(engine, plan_id) for c in caches]
    rng = np.random.default_rng(7)
    # Every batch: fresh ids for households 0..599 (one person each, so a second id for the same
    # household must be rejected), plus re-sends of ids other threads send too.
    jobs = []
    for t in range(2 * THREADS):
        for b in range(BATCHES):
            households = rng.integers(0, 600, BATCH)
            rows = [{"id": f"t{t}-b{b}-{j}" if j % 4 else f"shared-{b}-{j}", "code": codes[h], "site_id": f"S{h % 2}",
                     "at": "2022-11-23T10:00:00+08:00", "people": 1} for j, h in enumerate(households)]
            jobs.append((t % 2, rows))
    answers: list[dict[str, object]] = []
    lock = threading.Lock()

    def send(job: tuple[int, list[dict[str, object]]]) -> None:
        worker, rows = job
        answer = store_checkins(engine, states[worker], rows, None)
        with lock:
            answers.append(answer)

    with ThreadPoolExecutor(2 * THREADS) as pool:
        list(pool.map(send, jobs))
    for answer, (_, rows) in zip(answers, jobs, strict=False):
        assert int(answer["accepted"]) + int(answer["duplicates"]) + len(answer["rejected"]) == len(rows)  # type: ignore[arg-type]
    with engine.connect() as conn:
        stored = conn.execute(select(func.count(), func.coalesce(func.sum(Checkin.people), 0))
                              .where(Checkin.plan_id == plan_id)).one()
        per_household = conn.execute(select(Checkin.household, func.sum(Checkin.people))
                                     .where(Checkin.plan_id == plan_id).group_by(Checkin.household)).all()
    assert sum(int(a["accepted"]) for a in answers) == stored[0]  # type: ignore[call-overload]
    for cache in caches:
        state = cache.state(engine, plan_id)  # brought up to date: reads what it has not seen
        assert int(state.ledger.sampled_people.sum()) == int(stored[1])
        assert len(state.ledger.checkin_ids) == stored[0]
        assert int(state.bins.sum()) == int(stored[1])
    # Exact on both databases: PostgreSQL under the plan's writer lock, SQLite under BEGIN IMMEDIATE.
    assert max(int(n) for _, n in per_household) == 1


def test_a_cold_day_is_loaded_once_however_many_requests_wait(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight requests reach a worker whose cache does not hold the plan yet: one loads the day, the
    others wait for it and get the same state (each loading its own copy exhausted PostgreSQL's
    connection pool in benchmarks/checkin_load.py: 61 s latencies and timeouts)."""
    import time

    import api.day

    summary = {"area": AREA, "households": N, "window": {"start": "2022-11-23 06:00", "hours": 24, "slot_minutes": 30}}
    plan_id = store_plan(engine, summary, _plan_frames())
    real = api.day.load_day_plan
    calls: list[int] = []

    def slow_load(*args: object, **kwargs: object) -> object:
        calls.append(1)
        time.sleep(0.3)  # long enough for every other request to arrive meanwhile
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api.day, "load_day_plan", slow_load)
    cache = DayCache(CODE_SECRET.encode())
    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda _: cache.state(engine, plan_id), range(8)))
    assert len(calls) == 1
    assert all(s is states[0] for s in states)
