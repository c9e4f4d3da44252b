"""Counter stores behind the lookup and key limits: both backends count, lock and expire alike."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.limits import CounterStore, KeyLimits, LookupLimits, RedisStore, SqliteStore, hit, peek

REDIS_URL = os.environ.get("SAMPLER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


REDIS = pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}")


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=REDIS)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterStore]:
    """An empty store of each backend (Redis keys under a random prefix, deleted afterwards)."""
    if request.param == "sqlite":
        s: CounterStore = SqliteStore(tmp_path / "limits.sqlite3")
        yield s
        s.close()
        return
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    r = RedisStore(REDIS_URL, prefix)
    yield r
    for key in r.client.scan_iter(f"{prefix}*"):
        r.client.delete(key)
    r.close()


def test_hit_counts_then_locks_then_expires(store: CounterStore) -> None:
    """Counts go up within the window; reaching the limit extends the expiry to the lock time."""
    assert peek(store, "a") == (0, 0.0)
    assert [hit(store, "a", 3, 0.5, 5.0)[0] for _ in range(2)] == [1, 2]
    assert peek(store, "a")[1] <= 0.5
    n, ttl = hit(store, "a", 3, 0.5, 5.0)
    assert n == 3 and 4.0 < ttl <= 5.0  # locked for the lock time, not the short window
    assert peek(store, "b") == (0, 0.0)  # keys are independent


def test_window_expiry_restarts_the_count(store: CounterStore) -> None:
    """After the window passes without reaching the limit, the next hit starts again at 1."""
    hit(store, "w", 10, 0.2, 1.0)
    hit(store, "w", 10, 0.2, 1.0)
    time.sleep(0.3)
    assert peek(store, "w") == (0, 0.0)
    assert hit(store, "w", 10, 0.2, 1.0)[0] == 1


def test_lookup_limits_lock_a_household_for_every_client(store: CounterStore) -> None:
    """Five wrong answers from five addresses lock the household; others stay open."""
    limits = LookupLimits(store, per_minute=100, household_failures=5, lock_seconds=60, client_failures_per_hour=0)
    for i in range(5):
        assert not limits.before(f"10.0.0.{i}", "hh:H1").locked
        limits.failed(f"10.0.0.{i}", "hh:H1")
    assert limits.before("10.9.9.9", "hh:H1").locked
    assert not limits.before("10.9.9.9", "hh:H2").locked


def test_lookup_limits_per_client(store: CounterStore) -> None:
    """Requests per minute and wrong answers per hour are counted per client address."""
    limits = LookupLimits(store, per_minute=3, household_failures=5, lock_seconds=60, client_failures_per_hour=2)
    assert [limits.before("1.1.1.1", f"hh:{i}").retry_after > 0 for i in range(5)] == [False] * 3 + [True] * 2
    assert limits.before("2.2.2.2", "hh:x").retry_after == 0
    limits.failed("2.2.2.2", "hh:x")
    limits.failed("2.2.2.2", "hh:y")
    assert limits.before("2.2.2.2", "hh:z").retry_after > 0


def test_key_limits(store: CounterStore) -> None:
    """N wrong keys a minute block the address; another address is unaffected."""
    limits = KeyLimits(store, per_minute=3)
    for _ in range(3):
        assert limits.blocked("1.1.1.1") == 0
        limits.failed("1.1.1.1")
    assert limits.blocked("1.1.1.1") > 0 and limits.blocked("1.1.1.2") == 0


def test_store_holds_no_clear_keys(tmp_path: Path) -> None:
    """The SQLite store keeps hashed keys only (no household ids or addresses in clear), mode 0600."""
    path = tmp_path / "limits.sqlite3"
    s = SqliteStore(path)
    hit(s, "hh:H0001", 5, 60, 60)
    hit(s, "lk:rate:192.168.1.20", 5, 60, 60)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    s.close()
    raw += path.read_bytes()
    assert b"H0001" not in raw and b"192.168.1.20" not in raw
    assert path.stat().st_mode & 0o777 == 0o600


def _hammer(path: str, n: int) -> None:
    s = SqliteStore(Path(path))
    for _ in range(n):
        hit(s, "shared", 10**9, 60, 60)
    s.close()


def test_sqlite_store_is_atomic_across_processes(tmp_path: Path) -> None:
    """Two processes adding 300 hits each to one key end at exactly 600 (no lost updates)."""
    path = str(tmp_path / "limits.sqlite3")
    SqliteStore(Path(path)).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(path, 300)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert peek(SqliteStore(Path(path)), "shared")[0] == 600
