"""Rate limits and lockouts shared by every worker process: counters in Redis or in an SQLite file.

A counter is a key, a count and an expiry. `CounterStore.hit` adds one failure (or request) and
returns the count and the seconds until the counter resets; when the count reaches the limit the
expiry moves to ``now + lock`` (a lockout). `CounterStore.peek` reads a live count without adding.
Both backends do each step atomically (a Lua script in Redis, one ``INSERT ... ON CONFLICT DO
UPDATE ... RETURNING`` in SQLite), so two uvicorn workers see the same counts.

The lookup limits (`LookupLimits`) are keyed by an opaque lookup key, not by what it is made of:
today the registry household id, later a resident code. Keys are hashed before they are stored,
so the counter store holds no household ids or client addresses in clear.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["CounterStore", "Decision", "KeyLimits", "LookupLimits", "RedisStore", "SqliteStore", "open_store"]


class CounterStore(Protocol):
    """Atomic expiring counters."""

    def hit(self, key: str, limit: int, window: float, lock: float) -> tuple[int, float]:
        """Add one to ``key``; return (count, seconds until it resets)."""

    def peek(self, key: str) -> tuple[int, float]:
        """The live count of ``key`` and the seconds until it resets (0, 0 if none)."""

    def close(self) -> None:
        """Release connections."""


def _digest(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


class SqliteStore:
    """Counters in an SQLite file (WAL), one row per key; safe across processes on one machine."""

    _HIT = (
        "INSERT INTO counters(key, count, expires) VALUES(?1, 1, ?2 + ?4) "
        "ON CONFLICT(key) DO UPDATE SET "
        "count = CASE WHEN expires <= ?2 THEN 1 ELSE count + 1 END, "
        "expires = CASE WHEN expires <= ?2 THEN ?2 + ?4 "
        "WHEN count + 1 >= ?3 THEN MAX(expires, ?2 + ?5) ELSE expires END "
        "RETURNING count, expires"
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._local = threading.local()
        self._hits = 0
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                     "expires REAL NOT NULL) WITHOUT ROWID")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")  # counters may be lost in a power cut, never corrupted
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
        return conn

    def hit(self, key: str, limit: int, window: float, lock: float) -> tuple[int, float]:
        now = time.time()
        conn = self._conn()
        count, expires = conn.execute(self._HIT, (_digest(key), now, limit, window, lock)).fetchone()
        self._hits += 1
        if self._hits % 1000 == 0:
            conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return int(count), max(0.0, float(expires) - now)

    def peek(self, key: str) -> tuple[int, float]:
        now = time.time()
        row = self._conn().execute("SELECT count, expires FROM counters WHERE key = ? AND expires > ?",
                                   (_digest(key), now)).fetchone()
        return (0, 0.0) if row is None else (int(row[0]), float(row[1]) - now)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class RedisStore:
    """Counters in Redis (``SAMPLER_REDIS_URL``): shared by every process and machine."""

    _HIT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
  return {1, tonumber(ARGV[2])}
end
local n = redis.call('INCR', KEYS[1])
if n >= tonumber(ARGV[1]) and ttl < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  ttl = tonumber(ARGV[3])
end
return {n, ttl}
"""

    def __init__(self, url: str, prefix: str = "sampler:") -> None:
        import redis

        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.client.register_script(self._HIT)

    def hit(self, key: str, limit: int, window: float, lock: float) -> tuple[int, float]:
        n, ttl = self._script(keys=[f"{self.prefix}{_digest(key)}"],
                              args=[limit, max(1, int(window * 1000)), max(1, int(lock * 1000))])
        return int(n), int(ttl) / 1000

    def peek(self, key: str) -> tuple[int, float]:
        pipe = self.client.pipeline(transaction=False)
        name = f"{self.prefix}{_digest(key)}"
        pipe.get(name)
        pipe.pttl(name)
        value, ttl = pipe.execute()
        if value is None or ttl <= 0:
            return 0, 0.0
        return int(value), int(ttl) / 1000

    def close(self) -> None:
        self.client.close()


def open_store(redis_url: str | None, data_dir: Path, prefix: str = "sampler:") -> CounterStore:
    """Redis when a URL is configured, else the SQLite file ``data_dir/limits.sqlite3``."""
    if redis_url:
        return RedisStore(redis_url, prefix)
    return SqliteStore(data_dir / "limits.sqlite3")


@dataclass(frozen=True)
class Decision:
    """What to answer: ``retry_after`` > 0 means 429; ``locked`` means answer like a miss."""

    retry_after: int = 0
    locked: bool = False


@dataclass
class LookupLimits:
    """Resident lookup limits: requests per client, failures per client, failures per lookup key."""

    store: CounterStore
    per_minute: int = 20
    household_failures: int = 5
    lock_seconds: float = 900.0
    client_failures_per_hour: int = 60

    def before(self, client: str, lookup_key: str) -> Decision:
        """Count the request; say whether the client must wait or the lookup key is locked."""
        if self.per_minute > 0:
            n, ttl = self.store.hit(f"lk:rate:{client}", self.per_minute + 1, 60.0, 60.0)
            if n > self.per_minute:
                return Decision(retry_after=max(1, math.ceil(ttl)))
        if self.client_failures_per_hour > 0:
            n, ttl = self.store.peek(f"lk:cfail:{client}")
            if n >= self.client_failures_per_hour:
                return Decision(retry_after=max(1, math.ceil(ttl)))
        n, _ = self.store.peek(f"lk:key:{lookup_key}")
        return Decision(locked=n >= self.household_failures)

    def failed(self, client: str, lookup_key: str) -> None:
        """Record a wrong answer against the client and the lookup key."""
        self.store.hit(f"lk:key:{lookup_key}", self.household_failures, self.lock_seconds, self.lock_seconds)
        if self.client_failures_per_hour > 0:
            self.store.hit(f"lk:cfail:{client}", self.client_failures_per_hour, 3600.0, 3600.0)


@dataclass
class KeyLimits:
    """Wrong API keys per client address per minute."""

    store: CounterStore
    per_minute: int = 10

    def blocked(self, client: str) -> int:
        """Seconds the client must wait before sending a key again (0: go ahead)."""
        if self.per_minute <= 0:
            return 0
        n, ttl = self.store.peek(f"key:fail:{client}")
        return max(1, math.ceil(ttl)) if n >= self.per_minute else 0

    def failed(self, client: str) -> None:
        """Record a wrong key from the client."""
        if self.per_minute > 0:
            self.store.hit(f"key:fail:{client}", self.per_minute, 60.0, 60.0)
