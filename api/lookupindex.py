"""The resident lookup held in each worker process's memory, so that an SMS wave's lookups do not
queue behind the database (a plan store's COPY or an upload competing for PostgreSQL's time).

A published plan is immutable except for a purge, so a process may keep what lookups need of it:
per household its resident code (packed into one integer per code, in a hash index), the last 4
digits of the phone (never the whole number), the household id, building, unit, room, site, mode
and slot: 69 bytes a household, 69 MB for a million (`LookupIndex.nbytes`; built from SQLite in
7.6 s, in a background thread). `LookupIndex.row`
answers with the same fields as the SQL lookup (`api.routers.lookup`), checked for every
household in the tests.

`PublishedPlans` (api.routers.lookup) keeps one index per published plan and re-reads which plans
are published, and whether their scenario has been purged, every few seconds: an index whose plan
was withdrawn, deleted or purged is dropped (and a purged plan published again is read again,
without the erased data). Each refresh starts building, in a background thread, the index of every
published plan that has none (the service warms them at startup too); until one is ready, lookups
use the database, except that small plans are indexed on their first lookup.

A withdrawal, deletion or purge in another worker process takes effect here at the next refresh,
within the TTL (2 s): the index is not used once the cached list is older than that. The purge
endpoint answers only after the TTL has passed, so that when it says done no worker answers from
what it erased.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Connection, Engine, select

from api.models import PLAN_TABLES

__all__ = ["INLINE_HOUSEHOLDS", "IndexCache", "LookupIndex", "LookupRow"]

INLINE_HOUSEHOLDS = 10_000
"""Plans up to this many households are indexed on their first lookup (under 0.1 s, on the event
loop); larger ones in a background thread."""
_CHUNK = 100_000
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LookupRow:
    """One household as the lookup's SQL row names its fields (``phone``: the last 4 digits only)."""

    phone: str
    household_id: str
    code: str
    site_id: str | None
    building_id: str | None
    unit: str | None
    room: str | None
    mode: str | None
    slot_start: str | None
    slot_end: str | None
    site: str | None
    building_name: str | None
    unplaced: str | None


def _columns(conn: Connection, table: str, plan_id: int, *cols: str) -> list[pa.Array]:
    """Columns of a stored plan table in row order as Arrow texts (NULL kept), read in chunks so a
    million rows never sit in memory as Python tuples at once."""
    t = PLAN_TABLES[table]
    result = conn.execute(select(*(t.c[c] for c in cols)).where(t.c.plan_id == plan_id).order_by(t.c.row))
    parts: list[list[pa.Array]] = [[] for _ in cols]
    cursor = result.cursor
    while cursor is not None:
        rows = cursor.fetchmany(_CHUNK)
        if not rows:
            break
        for i, column in enumerate(zip(*rows, strict=True)):
            parts[i].append(pa.array([None if v is None else str(v) for v in column], type=pa.large_string()))
    result.close()
    return [pa.concat_arrays(p) if p else pa.array([], type=pa.large_string()) for p in parts]


def _pack(codes: Any) -> np.ndarray | None:
    """Codes of 8 ASCII characters as one integer each; None when any is not."""
    from sampler.plan.replan import packed_texts

    arr = codes if isinstance(codes, pa.Array) else pa.array(list(codes), type=pa.large_string())
    if not len(arr):
        return np.zeros(0, dtype=np.uint64)
    packed = packed_texts(arr)
    return None if packed is None or packed[1] != 8 else packed[0]


class LookupIndex:
    """What the resident lookup reads of one stored plan (module docstring)."""

    def __init__(self, conn: Connection, plan_id: int) -> None:
        from sampler.plan.replan import positions

        c_id, c_code, c_phone = _columns(conn, "contacts", plan_id, "household_id", "code", "phone")
        a_id, a_site, a_building, a_unit, a_room, a_mode, a_start, a_end = _columns(
            conn, "assignments", plan_id, "household_id", "site_id", "building_id", "unit", "room", "mode",
            "slot_start", "slot_end")
        s_id, s_name = _columns(conn, "sites", plan_id, "site_id", "name")
        b_id, b_name = _columns(conn, "buildings", plan_id, "building_id", "name")
        (u_id,) = _columns(conn, "unplaced", plan_id, "household_id")
        codes = c_code.fill_null("")
        packed = _pack(codes)
        if packed is None:
            raise ValueError("resident codes are not all 8 characters: lookups read the database")
        # The first contacts row of a code answers, as the SQL lookup's LIMIT 1 on the row order.
        first = ~pd.Index(packed).duplicated()
        self._where = np.flatnonzero(first)
        self._codes = pd.Index(packed[first])
        n = len(c_id)
        phone = np.asarray(c_phone.fill_null("").to_numpy(zero_copy_only=False), dtype=object)
        self._last4 = np.array([p[-4:] if len(p) >= 4 and p[-4:].isascii() else "" for p in phone], dtype="S4")
        self._ids = c_id.fill_null("")
        row = positions(a_id.fill_null(""), self._ids)  # contacts row → assignments row (−1: none)
        self._row = row.astype(np.int32 if len(a_id) < 2**31 else np.int64)
        # Few distinct values each (sites, buildings, slots, units, rooms): 4 bytes a row.
        self._a = {name: column.dictionary_encode() for name, column in (
            ("site_id", a_site), ("building_id", a_building), ("unit", a_unit), ("room", a_room),
            ("mode", a_mode), ("slot_start", a_start), ("slot_end", a_end))}
        self._site_name = dict(zip(s_id.to_pylist(), s_name.to_pylist(), strict=True))
        names: dict[str | None, str | None] = {}
        for b, name in zip(b_id.to_pylist(), b_name.to_pylist(), strict=True):
            names.setdefault(b, name)
        self._building_name = names
        self._unplaced = positions(u_id.fill_null(""), self._ids) >= 0 if len(u_id) else np.zeros(n, dtype=bool)
        self.households = n

    @property
    def nbytes(self) -> int:
        """Memory the index holds (arrays and the code hash table)."""
        arrays = [self._ids, *self._a.values()]
        return int(sum(a.nbytes for a in arrays) + self._codes.memory_usage(deep=True) + self._where.nbytes
                   + self._last4.nbytes + self._row.nbytes + self._unplaced.nbytes)

    def row(self, code: str) -> LookupRow | None:
        """The household of a normalised resident code, or None."""
        raw = code.encode("utf-8", "replace")
        if len(raw) != 8:  # every indexed code is 8 bytes (`_pack`)
            return None
        at = int(self._codes.get_indexer(pd.Index(np.frombuffer(raw, dtype=np.uint64)))[0])
        if at < 0:
            return None
        i = int(self._where[at])
        j = int(self._row[i])
        a = {k: (v[j].as_py() if j >= 0 else None) for k, v in self._a.items()}
        site_id, building_id = a["site_id"], a["building_id"]
        return LookupRow(
            phone=self._last4[i].decode("ascii", "replace"), household_id=str(self._ids[i].as_py()), code=code,
            site_id=site_id, building_id=building_id, unit=a["unit"], room=a["room"], mode=a["mode"],
            slot_start=a["slot_start"], slot_end=a["slot_end"],
            site=self._site_name.get(site_id) if site_id is not None else None,
            building_name=self._building_name.get(building_id) if building_id is not None else None,
            unplaced=str(self._ids[i].as_py()) if self._unplaced[i] else None)


class IndexCache:
    """Lookup indexes by (plan id, purge marker), built once per process (module docstring)."""

    def __init__(self, max_households: int) -> None:
        self.max_households = max_households
        self._indexes: dict[tuple[int, Any], LookupIndex | None] = {}  # None: being built, or not indexable
        self._lock = threading.Lock()

    def keep(self, keys: set[tuple[int, Any]]) -> None:
        """Drop every index whose plan is not among the published ``keys`` any more."""
        with self._lock:
            for key in [k for k in self._indexes if k not in keys]:
                del self._indexes[key]

    def get(self, engine: Engine, key: tuple[int, Any], households: int) -> LookupIndex | None:
        """The index of a published plan, or None while it is built (or when it cannot be)."""
        if self.max_households <= 0 or households > self.max_households:
            return None
        with self._lock:
            if key in self._indexes:
                return self._indexes[key]
        if households > INLINE_HOUSEHOLDS:
            self.warm(engine, key, households)
        elif self._claim(key):
            self._build(engine, key)
        return self._indexes.get(key)

    def warm(self, engine: Engine, key: tuple[int, Any], households: int) -> None:
        """Start building the index of a large published plan in the background, unless it is
        there (small ones are built on their first lookup)."""
        if self.max_households <= 0 or households > self.max_households or households <= INLINE_HOUSEHOLDS:
            return
        if self._claim(key):
            threading.Thread(target=self._build, args=(engine, key), name=f"lookup-index-{key[0]}", daemon=True).start()

    def _claim(self, key: tuple[int, Any]) -> bool:
        """Mark ``key`` as being built; False when it is built or being built already."""
        with self._lock:
            if key in self._indexes:
                return False
            self._indexes[key] = None
            return True

    def _build(self, engine: Engine, key: tuple[int, Any]) -> None:
        try:
            with engine.connect() as conn:
                index = LookupIndex(conn, key[0])
        except Exception as exc:  # noqa: BLE001 - any failure leaves lookups on the database
            _log.warning("plan %s: lookups read the database (%s)", key[0], type(exc).__name__)
            return
        with self._lock:
            if key in self._indexes:  # not dropped meanwhile
                self._indexes[key] = index
