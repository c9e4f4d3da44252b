"""Rate limits and lockouts shared by every worker process: counters in Redis or in an SQLite file.

A counter is a key, a count and an expiry. `CounterStore.hit` adds one failure (or request) and
returns the count and the seconds until the counter resets; when the count reaches the limit the
expiry moves to ``now + lock`` (a lockout); `peek` reads a live count without adding. A store
does both for several keys in one round trip (`CounterStore.update`, one Lua script in Redis),
and each hit atomically (Lua in Redis, one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` in
SQLite), so two uvicorn workers see the same counts.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["CounterStore", "Decision", "KeyLimits", "LookupLimits", "RedisStore", "SqliteStore", "hit", "open_store",
           "peek"]


Hit = tuple[str, int, float, float]
"""A hit: key, limit, window and lock seconds."""
Count = tuple[int, float]
"""A counter's live count and the seconds until it resets."""


class CounterStore(Protocol):
    """Atomic expiring counters."""

    def update(self, hits: Sequence[Hit], peeks: Sequence[str]) -> tuple[list[Count], list[Count]]:
        """Add one to each hit key and read each peek key, in one round trip."""

    def close(self) -> None:
        """Release connections."""


def hit(store: CounterStore, key: str, limit: int, window: float, lock: float) -> Count:
    """Add one to ``key``; return (count, seconds until it resets)."""
    return store.update([(key, limit, window, lock)], [])[0][0]


def peek(store: CounterStore, key: str) -> Count:
    """The live count of ``key`` and the seconds until it resets ((0, 0) if none)."""
    return store.update([], [key])[1][0]


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

    def update(self, hits: Sequence[Hit], peeks: Sequence[str]) -> tuple[list[Count], list[Count]]:
        now = time.time()
        conn = self._conn()
        done: list[Count] = []
        for key, limit, window, lock in hits:
            count, expires = conn.execute(self._HIT, (_digest(key), now, limit, window, lock)).fetchone()
            done.append((int(count), max(0.0, float(expires) - now)))
        seen: list[Count] = []
        for key in peeks:
            row = conn.execute("SELECT count, expires FROM counters WHERE key = ? AND expires > ?",
                               (_digest(key), now)).fetchone()
            seen.append((0, 0.0) if row is None else (int(row[0]), float(row[1]) - now))
        if hits:
            self._hits += 1
            if self._hits % 1000 == 0:
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return done, seen

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class RedisStore:
    """Counters in Redis (``SAMPLER_REDIS_URL``): shared by every process and machine."""

    # KEYS: the hit keys, then the peek keys; ARGV: number of hits, then limit, window ms, lock ms
    # per hit. Returns count, ttl ms pairs in the same order.
    _UPDATE = """
local nhits = tonumber(ARGV[1])
local out = {}
for i = 1, nhits do
  local key, limit = KEYS[i], tonumber(ARGV[3 * i - 1])
  local window, lock = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  local ttl = redis.call('PTTL', key)
  local n
  if ttl <= 0 then
    redis.call('SET', key, 1, 'PX', window)
    n, ttl = 1, window
  else
    n = redis.call('INCR', key)
    if n >= limit and ttl < lock then
      redis.call('PEXPIRE', key, lock)
      ttl = lock
    end
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
for i = nhits + 1, #KEYS do
  local ttl = redis.call('PTTL', KEYS[i])
  local v = redis.call('GET', KEYS[i])
  if v and ttl > 0 then
    out[#out + 1] = tonumber(v)
    out[#out + 1] = ttl
  else
    out[#out + 1] = 0
    out[#out + 1] = 0
  end
end
return out
"""

    def __init__(self, url: str, prefix: str = "sampler:") -> None:
        import redis

        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self.client.register_script(self._UPDATE)

    def update(self, hits: Sequence[Hit], peeks: Sequence[str]) -> tuple[list[Count], list[Count]]:
        keys = [f"{self.prefix}{_digest(k)}" for k in [*(h[0] for h in hits), *peeks]]
        args: list[int] = [len(hits)]
        for _key, limit, window, lock in hits:
            args += [limit, max(1, int(window * 1000)), max(1, int(lock * 1000))]
        flat = self._script(keys=keys, args=args)
        pairs = [(int(flat[i]), int(flat[i + 1]) / 1000) for i in range(0, len(flat), 2)]
        return pairs[:len(hits)], pairs[len(hits):]

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
        hits: list[Hit] = [(f"lk:rate:{client}", self.per_minute + 1, 60.0, 60.0)] if self.per_minute > 0 else []
        peeks = [f"lk:key:{lookup_key}"]
        if self.client_failures_per_hour > 0:
            peeks.append(f"lk:cfail:{client}")
        done, seen = self.store.update(hits, peeks)  # one round trip
        if hits and done[0][0] > self.per_minute:
            return Decision(retry_after=max(1, math.ceil(done[0][1])))
        if self.client_failures_per_hour > 0 and seen[1][0] >= self.client_failures_per_hour:
            return Decision(retry_after=max(1, math.ceil(seen[1][1])))
        return Decision(locked=seen[0][0] >= self.household_failures)

    def failed(self, client: str, lookup_key: str) -> None:
        """Record a wrong answer against the lookup key and the client."""
        hits: list[Hit] = [(f"lk:key:{lookup_key}", self.household_failures, self.lock_seconds, self.lock_seconds)]
        if self.client_failures_per_hour > 0:
            hits.append((f"lk:cfail:{client}", self.client_failures_per_hour, 3600.0, 3600.0))
        self.store.update(hits, [])


@dataclass
class KeyLimits:
    """Wrong API keys per client address per minute."""

    store: CounterStore
    per_minute: int = 10

    def blocked(self, client: str) -> int:
        """Seconds the client must wait before sending a key again (0: go ahead)."""
        if self.per_minute <= 0:
            return 0
        n, ttl = peek(self.store, f"key:fail:{client}")
        return max(1, math.ceil(ttl)) if n >= self.per_minute else 0

    def failed(self, client: str) -> None:
        """Record a wrong key from the client."""
        if self.per_minute > 0:
            hit(self.store, f"key:fail:{client}", self.per_minute, 60.0, 60.0)
