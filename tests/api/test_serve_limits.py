"""`sampler serve --workers 2` as deployed: X-Forwarded-For is not believed from loopback, the lookup
counters are shared by both worker processes, a locked household stays locked in every worker,
and the files the service creates are private to its user."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.db import make_engine
from api.storage import store_plan
from tests.api.conftest import PLANNER_KEY
from tests.api.plandir import code_of, plan_frames, plan_summary
from tests.api.test_limits import REDIS, REDIS_URL
from tests.api.test_live_server import _free_port

ROOT = Path(__file__).resolve().parents[2]
SAMPLER = Path(sys.executable).parent / "sampler"


@pytest.fixture(params=["embedded", pytest.param("redis", marks=REDIS)])
def served(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`sampler serve --workers 2` on a free port: 10 lookups a minute per client; counters in
    the embedded SQLite store or in Redis (under a random prefix, deleted afterwards)."""
    port = _free_port()
    data = tmp_path / "data"
    env = {**os.environ, "SAMPLER_DATABASE_URL": database_url, "SAMPLER_DATA_DIR": str(data),
           "SAMPLER_BOOTSTRAP_PLANNER_KEY": PLANNER_KEY, "SAMPLER_LOOKUP_PER_MINUTE": "10",
           "PYTHONPATH": str(ROOT)}
    env.pop("SAMPLER_REDIS_URL", None)
    env.pop("SAMPLER_TRUSTED_PROXIES", None)
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    if request.param == "redis":
        env |= {"SAMPLER_REDIS_URL": REDIS_URL, "SAMPLER_REDIS_PREFIX": prefix}
    proc = subprocess.Popen([str(SAMPLER), "serve", "--workers", "2", "--port", str(port)], env=env, cwd=tmp_path,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "sampler serve did not start"
            time.sleep(0.3)
        yield url, data
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if request.param == "redis":
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
            client.close()


def test_two_workers_share_lookup_limits(served: tuple[str, Path], database_url: str) -> None:
    """Lockout and rate limit hold across both workers, whatever X-Forwarded-For says."""
    url, data = served
    engine = make_engine(database_url)
    pid = store_plan(engine, plan_summary(), plan_frames())
    engine.dispose()
    assert httpx.post(f"{url}/api/v1/plans/{pid}/publish", headers={"X-API-Key": PLANNER_KEY}, timeout=10).status_code == 200
    time.sleep(2.5)  # the other worker's published-plan cache expires

    def ask(household: str, digits: str, i: int) -> int:
        # A fresh connection each time, so the kernel hands requests to both workers.
        r = httpx.post(f"{url}/api/v1/lookup", json={"code": code_of(household), "phone_last4": digits},
                       headers={"X-Forwarded-For": f"198.51.100.{i % 250}", "Connection": "close"}, timeout=10)
        return r.status_code

    wrong = [ask("H002", f"9{i:03d}", i) for i in range(5)]
    right_during_lock = ask("H002", "0002", 5)
    brute = [ask("H001", f"9{i:03d}", 6 + i) for i in range(30)]
    assert wrong == [404] * 5 and right_during_lock == 404
    assert brute[:4] == [404] * 4 and set(brute[4:]) == {429}  # 10 a minute in all, not 10 per worker
    assert data.stat().st_mode & 0o777 == 0o700
    for path in data.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    if (data / "limits.sqlite3").exists():
        assert (data / "limits.sqlite3").stat().st_mode & 0o777 == 0o600
    if database_url.startswith("sqlite"):
        db = Path(database_url.removeprefix("sqlite:///"))
        assert db.stat().st_mode & 0o777 == 0o600
