"""The sampling day in the service: each process keeps every live plan's day in memory.

The database is the one truth: check-ins and follow-ups are rows (`api.models.Checkin`,
`api.models.Followup`) with an increasing ``seq``. A worker process holds, per plan, the plan's
`sampler.day.ledger.DayPlan` (loaded once from the stored plan tables) and a `Ledger` it brings up
to date before every answer by reading only the rows after the last ``seq`` it applied. So
check-ins accepted by one worker are seen by every other, a restart rebuilds the same state, and a
status of a million-household plan is a few numpy reductions.

A batch of check-ins is validated against the ledger, then inserted with ``ON CONFLICT DO NOTHING``
on (plan, device id): a row another worker stored meanwhile counts as a duplicate, never twice.

Reading "the rows after the last ``seq``" is only safe when rows become visible in ``seq`` order.
SQLite has one writer at a time, so they do; a check-in writer there takes the write lock
(``BEGIN IMMEDIATE``) before it reads, so its validation is exact too. PostgreSQL hands out ``seq`` values when a row is
inserted, not when it commits: two concurrent transactions can commit 101 before 100, and a worker
that has read 101 would never read 100. So on PostgreSQL every writer of a plan's check-ins (and,
apart, of its follow-ups) first takes a transaction-scoped advisory lock on (schema, plan): seqs are
handed out and committed one transaction at a time. Under that lock a writer also knows it has
read every stored row, so its validation (duplicates, people left per household) is exact.

Each process sends one such transaction at a time per plan (`_Combiner`): requests that arrive while
one is in flight wait for it and go together in the next, so at thousands of check-ins a second a
process makes a few dozen transactions a second of several batches each, with two round trips for
the lock, one for the rows stored since its last read and one ``INSERT … SELECT FROM unnest(…) …
RETURNING`` for all the rows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import json
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from api.models import PLAN_TABLES, Checkin, Followup, Plan
from sampler.day.codes import resident_codes
from sampler.day.ledger import CHINA, DayPlan, Ledger, Outcome, validate_checkins
from sampler.notify.contact import address_of

__all__ = ["BIN_MINUTES", "DayCache", "DayState", "PlanGone", "load_day_plan", "missed_record", "missed_workbook",
           "outcomes_by", "store_checkins", "store_followups"]

BIN_MINUTES = 5  # check-in times are kept per site in bins of this many minutes (queue status)

class PlanGone(Exception):
    """The plan was deleted (by another process) while its day was cached here."""


@dataclass
class _Write:
    """One request's batch waiting for (or in) a write transaction."""

    rows: Sequence[Mapping[str, Any]]
    key_id: int | None
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    answer: dict[str, Any] | None = None
    error: BaseException | None = None


class _Combiner:
    """One write transaction at a time per plan and process; batches that arrive meanwhile go
    together in the next one (group commit). The thread whose batch starts a transaction runs it;
    when it ends, the first waiting batch's thread runs the next, so nobody serves others forever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Write] = []
        self._busy = False

    def run(self, job: _Write, write: Any) -> dict[str, Any]:
        """Put ``job`` in a transaction made by ``write(jobs)`` (which sets each job's answer)."""
        with self._lock:
            self._pending.append(job)
            lead = not self._busy
            self._busy = True
        if not lead:
            job.done.wait()
            lead = job.lead
        if lead:
            with self._lock:
                jobs, self._pending = self._pending, []
            try:
                write(jobs)
            except BaseException as exc:  # noqa: BLE001 - every batch of the transaction gets the error
                for j in jobs:
                    j.error = exc
            with self._lock:
                if self._pending:
                    nxt = self._pending[0]
                    nxt.lead = True
                    nxt.done.set()
                else:
                    self._busy = False
            for j in jobs:
                j.done.set()
        if job.error is not None:
            raise job.error
        assert job.answer is not None
        return job.answer


@dataclass
class DayState:
    """One plan's day in this process: the plan's arrays, the ledger and how far it has read."""

    plan_id: int
    day: DayPlan
    ledger: Ledger
    checkin_seq: int = 0
    followup_seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    bins: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    writes: _Combiner = field(default_factory=_Combiner)
    # every applied check-in as (household, site, minute from the window start, people), in chunks
    # (coverage over time, `checkin_log`)
    _log: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        n_bins = int(np.ceil(self.day.hours * 60 / BIN_MINUTES)) + 1
        self.bins = np.zeros((len(self.day.site_ids) + 1, n_bins), np.int64)  # last row: home visits

    def sampled_since(self, site: int, minute: float, span: float) -> int:
        """People checked in at ``site`` in the ``span`` minutes before ``minute`` (whole bins)."""
        hi = int(np.clip(minute // BIN_MINUTES, 0, self.bins.shape[1] - 1))
        lo = int(max(0, hi - span // BIN_MINUTES + 1))
        return int(self.bins[site, lo:hi + 1].sum())

    def checkin_log(self) -> np.ndarray:
        """Every check-in applied so far: float rows (household, site, minute, people); call under ``lock``."""
        if len(self._log) > 1:
            self._log[:] = [np.concatenate(self._log)]
        return self._log[0] if self._log else np.zeros((0, 4), np.float64)

    def with_details(self, conn: Connection) -> None:
        """Read contacts, phones, units and rooms once (missed lists, check-ins by phone)."""
        with self.lock:
            if self.day.contacts is None:
                self.day = load_details(conn, self.plan_id, self.day)

    def apply_rows(self, rows: Sequence[tuple[int, str, int, int, int, dt.datetime]]) -> None:
        """Apply stored check-in rows (seq, checkin id, household, site, people, at), in seq order;
        ids already applied are skipped (the ledger and the queue bins count each once)."""
        if not rows:
            return
        start = self.day.start
        seen = self.ledger.checkin_ids
        fresh = [r for r in rows if r[1] not in seen]
        self.ledger.apply({"id": r[1], "household": r[2], "site": r[3], "people": r[4]} for r in fresh)
        log = np.zeros((len(fresh), 4), np.float64)
        for j, (_seq, _cid, household, site, people, at) in enumerate(fresh):
            at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
            minute = (at - start).total_seconds() / 60
            b = int(np.clip(minute // BIN_MINUTES, 0, self.bins.shape[1] - 1))
            self.bins[site if site >= 0 else -1, b] += people
            log[j] = (household, site, minute, people)
        if fresh:
            self._log.append(log)
        self.checkin_seq = max(self.checkin_seq, int(rows[-1][0]))

    def catch_up_checkins(self, conn: Connection) -> None:
        """Apply the check-ins stored since the last call (one query)."""
        rows = conn.execute(
            select(Checkin.seq, Checkin.checkin_id, Checkin.household, Checkin.site, Checkin.people, Checkin.at)
            .where(Checkin.plan_id == self.plan_id, Checkin.seq > self.checkin_seq).order_by(Checkin.seq)
        ).all()
        self.apply_rows([tuple(r) for r in rows])  # type: ignore[misc]

    def catch_up(self, conn: Connection) -> None:
        """Apply the check-ins and follow-ups stored since the last call."""
        self.catch_up_checkins(conn)
        fups = conn.execute(
            select(Followup.seq, Followup.household, Followup.outcome)
            .where(Followup.plan_id == self.plan_id, Followup.seq > self.followup_seq).order_by(Followup.seq)
        ).all()
        for f in fups:
            self.ledger.record_outcome(int(f.household), Outcome(f.outcome))
        if fups:
            self.followup_seq = int(fups[-1].seq)


def _columns(conn: Connection, table: str, plan_id: int, *cols: str) -> list[np.ndarray]:
    """Columns of a stored plan table in row order, as object arrays (plain DBAPI tuples: building
    them from a million SQLAlchemy Row objects or a pandas frame costs several times more)."""
    t = PLAN_TABLES[table]
    result = conn.execute(select(*(t.c[c] for c in cols)).where(t.c.plan_id == plan_id).order_by(t.c.row))
    rows = result.cursor.fetchall() if result.cursor is not None else []
    result.close()
    if not rows:
        return [np.zeros(0, dtype=object) for _ in cols]
    return [np.asarray(column, dtype=object) for column in zip(*rows, strict=True)]


def stored_household_ids(conn: Connection, plan_id: int) -> np.ndarray:
    """The household ids of a stored plan in the order a check-in's ``household`` indexes them
    (assignments, then unplaced: the order of `load_day_plan`)."""
    (a_id,) = _columns(conn, "assignments", plan_id, "household_id")
    (u_id,) = _columns(conn, "unplaced", plan_id, "household_id")
    return np.concatenate([a_id, u_id]).astype(object)


def registry_rows(conn: Connection, plan_id: int, registry_ids: np.ndarray) -> np.ndarray:
    """Registry row of each household index a check-in stores (−1 for a household the registry
    does not have)."""
    import pandas as pd

    stored = stored_household_ids(conn, plan_id).astype(str)
    return np.asarray(pd.Index(np.asarray(registry_ids).astype(str)).get_indexer(stored), dtype=np.int64)


def outcomes_by(engine: Engine, plan_id: int, registry_ids: np.ndarray) -> np.ndarray:
    """Per registry household: the newest follow-up outcome recorded so far ('' for none). Follow-ups
    carry the time they were recorded, not a time of the plan's day, so all of them count."""
    outcomes = np.full(len(registry_ids), "", dtype=object)
    with engine.connect() as conn:
        found = conn.execute(select(Followup.household, Followup.outcome).where(
            Followup.plan_id == plan_id).order_by(Followup.seq)).all()
        if not found:
            return outcomes
        rows = registry_rows(conn, plan_id, registry_ids)
    for household, outcome in found:  # in seq order: the newest per household wins
        if 0 <= household < len(rows) and rows[household] >= 0:
            outcomes[rows[household]] = str(outcome)
    return outcomes


def _index_of(values: np.ndarray, keys: dict[str, int]) -> np.ndarray:
    return np.fromiter((keys.get(str(v), -1) for v in values), dtype=np.int64, count=len(values))


def _minutes(labels: np.ndarray, start: dt.datetime) -> np.ndarray:
    """Minutes from the window start of 'YYYY-MM-DD HH:MM' labels (the stored plan's text edge;
    a plan has a few dozen distinct labels, each parsed once)."""
    naive = start.replace(tzinfo=None)
    parsed: dict[str, int] = {}
    for label in set(labels.tolist()):
        try:
            parsed[label] = int((dt.datetime.strptime(str(label), "%Y-%m-%d %H:%M") - naive).total_seconds() // 60)
        except ValueError:
            parsed[label] = -1
    return np.fromiter((parsed[v] for v in labels.tolist()), dtype=np.int64, count=len(labels))


def _unplaced_codes(conn: Connection, plan_id: int, u_id: np.ndarray) -> np.ndarray:
    """The stored codes of the unplaced households (contacts, in unplaced.csv's order); blanks
    where contacts are gone (a purged campaign)."""
    if not len(u_id):
        return np.zeros(0, dtype=object)
    u, c = PLAN_TABLES["unplaced"], PLAN_TABLES["contacts"]
    rows = conn.execute(
        select(u.c.household_id, c.c.code)
        .select_from(u.join(c, (c.c.plan_id == u.c.plan_id) & (c.c.household_id == u.c.household_id)))
        .where(u.c.plan_id == plan_id)).all()
    found = {str(h): str(code) for h, code in rows}
    return np.array([found.get(str(h), "") for h in u_id], dtype=object)


def _stored_codes(stored: np.ndarray, area: str, ids: np.ndarray, secret: bytes) -> np.ndarray:
    """The codes stored with the plan (the ones its SMS carried); keyed anew only where none is
    stored (plans stored before codes existed), unique against the whole area as always."""
    codes = np.asarray(stored, dtype=object).copy()
    blank = np.flatnonzero([not c for c in codes.tolist()])
    if len(blank):
        codes[blank] = resident_codes(area, ids, secret)[blank]
    return codes


def window_of(window: dict[str, Any], tz: dt.tzinfo = CHINA) -> tuple[dt.datetime, float]:
    """(start, hours) of a stored plan's window (plan.json's ``window``), the start timezone-aware
    (the window's clock is China time)."""
    start = dt.datetime.strptime(window["start"], "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    return start, window["slots"] * window["slot_minutes"] / 60.0 if "slots" in window else float(window["hours"])


def plan_window(summary_text: str, tz: dt.tzinfo = CHINA) -> tuple[dt.datetime, dt.datetime]:
    """(start, end) of a stored plan's window, timezone-aware."""
    start, hours = window_of(json.loads(summary_text)["window"], tz)
    return start, start + dt.timedelta(hours=hours)


def time_in_window(summary_text: str, at: dt.datetime | None) -> tuple[dt.datetime, dt.datetime, dt.datetime, bool]:
    """A job's time on a stored plan's day: (at, window start, window end, inside). No ``at``: now,
    held inside the window; an ``at`` without an offset is the window's clock (China time)."""
    start, end = plan_window(summary_text)
    if at is None:
        return min(max(dt.datetime.now(dt.UTC), start), end).astimezone(start.tzinfo), start, end, True
    at = at if at.tzinfo is not None else at.replace(tzinfo=start.tzinfo)
    return at.astimezone(start.tzinfo), start, end, start <= at <= end


def load_day_plan(conn: Connection, plan_id: int, secret: bytes, tz: dt.tzinfo = CHINA) -> DayPlan:
    """The day's view of a stored plan: the placed households (assignments' row order), then the
    unplaced ones. Contacts, phones, units and rooms are read later, when a missed list or a
    check-in by phone needs them (`load_details`)."""
    summary_text, area = conn.execute(select(Plan.summary, Plan.area).where(Plan.id == plan_id)).one()
    window = json.loads(summary_text)["window"]
    start, hours = window_of(window, tz)
    a_id, a_code, a_building, a_size, a_mode, a_site, a_end = _columns(
        conn, "assignments", plan_id, "household_id", "code", "building_id", "size", "mode", "site_id", "slot_end")
    u_id, u_building, u_size = _columns(conn, "unplaced", plan_id, "household_id", "building_id", "size")
    u_code = _unplaced_codes(conn, plan_id, u_id)
    # buildings.csv has a row per (building, site, slot) it is called in: one per building here
    b_id, b_name, b_grid, b_compound = _columns(conn, "buildings", plan_id, "building_id", "name", "grid", "compound")
    _, first = np.unique(b_id.astype(str), return_index=True)
    keep = np.sort(first)
    b_id, b_name, b_grid, b_compound = b_id[keep], b_name[keep], b_grid[keep], b_compound[keep]
    s_id, s_name, s_lon, s_lat, s_tables, s_rate = _columns(
        conn, "sites", plan_id, "site_id", "name", "lon", "lat", "tables", "rate")
    buildings = {str(b): i for i, b in enumerate(b_id)}
    sites = {str(x): i for i, x in enumerate(s_id)}
    ids = np.concatenate([a_id, u_id]).astype(str).astype(object)
    at_site = a_mode == "site"
    site = np.where(at_site, _index_of(np.where(at_site, a_site, ""), sites), -1)
    return DayPlan(
        area=area, household_ids=ids, codes=_stored_codes(np.concatenate([a_code, u_code]), area, ids, secret),
        size=np.concatenate([a_size, u_size]).astype(np.int64),
        site=np.concatenate([site, np.full(len(u_id), -1)]).astype(np.int64),
        slot_end=np.concatenate([_minutes(a_end, start), np.full(len(u_id), -1)]).astype(np.int64),
        building=np.concatenate([_index_of(a_building, buildings), _index_of(u_building, buildings)]),
        building_ids=b_id.astype(str).astype(object), building_grid=b_grid.astype(str).astype(object),
        building_compound=b_compound.astype(str).astype(object), building_names=b_name.astype(str).astype(object),
        site_ids=[str(x) for x in s_id], site_names=[str(x) for x in s_name], start=start, hours=hours,
        slot_minutes=int(window["slot_minutes"]), site_lon=[float(x) for x in s_lon],
        site_lat=[float(x) for x in s_lat],
        site_rate=[float(t) * float(r) / 60.0 for t, r in zip(s_tables, s_rate, strict=True)])


def load_details(conn: Connection, plan_id: int, day: DayPlan) -> DayPlan:
    """``day`` with contacts, phones, units and rooms (for missed lists and check-ins by phone)."""
    index = {str(h): i for i, h in enumerate(day.household_ids)}
    n = len(day)
    contacts, phones, units, rooms = (np.full(n, "", dtype=object) for _ in range(4))
    c_id, c_contact, c_phone = _columns(conn, "contacts", plan_id, "household_id", "contact", "phone")
    rows = _index_of(c_id, index)
    found = rows >= 0
    contacts[rows[found]] = c_contact[found]
    phones[rows[found]] = c_phone[found]
    a_id, a_unit, a_room = _columns(conn, "assignments", plan_id, "household_id", "unit", "room")
    rows = _index_of(a_id, index)
    found = rows >= 0
    units[rows[found]] = a_unit[found]
    rooms[rows[found]] = a_room[found]
    return dataclasses.replace(day, contacts=contacts, phones=phones, unit=units, room=rooms, _index={})


class DayCache:
    """Per-process cache of `DayState` by plan id (a plan's arrays are loaded once)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self._states: dict[int, DayState] = {}
        self._loading: dict[int, threading.Lock] = {}  # plan → held while one thread loads its day
        self._lock = threading.Lock()

    def cached(self, plan_id: int) -> DayState | None:
        """The plan's day if this process has loaded it (not brought up to date)."""
        with self._lock:
            return self._states.get(plan_id)

    def state(self, engine: Engine, plan_id: int, details: bool = False, catch_up: bool = True) -> DayState:
        """The plan's day, up to date with the database (``details``: with contacts and phones;
        ``catch_up=False``: as loaded, for a writer that reads the new rows under its lock).

        A plan's day is loaded by one thread only: requests that arrive meanwhile wait for it
        without holding a database connection (a cold million-household day takes seconds to load;
        every request loading its own copy exhausted the connection pool under a check-in wave)."""
        with self._lock:
            state = self._states.get(plan_id)
        if state is None:
            state = self._load(engine, plan_id)
        if not details and not catch_up:
            return state
        with engine.connect() as conn:
            if details:
                state.with_details(conn)
            if catch_up:
                with state.lock:
                    state.catch_up(conn)
        return state

    def _load(self, engine: Engine, plan_id: int) -> DayState:
        with self._lock:
            loading = self._loading.setdefault(plan_id, threading.Lock())
        with loading:
            with self._lock:
                state = self._states.get(plan_id)
            if state is not None:  # another thread loaded it while this one waited
                return state
            with engine.connect() as conn:
                day = load_day_plan(conn, plan_id, self.secret)
            day.lookup("code")  # the indexes check-ins use, built now rather than by the first batch
            day.lookup("household_id")
            day.lookup("site")
            state = DayState(plan_id, day, Ledger.empty(day))
            with self._lock:
                state = self._states.setdefault(plan_id, state)
                self._loading.pop(plan_id, None)
            gc.freeze()  # a million-household day out of the collector's way: no long GC pauses
        return state

    def forget(self, plan_id: int) -> None:
        """Drop a plan's day (it was deleted)."""
        with self._lock:
            self._states.pop(plan_id, None)


_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || :what), :plan)"
_INSERT_PG = (
    "INSERT INTO checkins (plan_id, checkin_id, household, site, at, people, tube, key_id, received_at) "
    "SELECT %s, u.* , (now() AT TIME ZONE 'UTC') FROM unnest(%s::varchar[], %s::int[], %s::int[], "
    "%s::timestamptz[], %s::int[], %s::varchar[], %s::int[]) AS u "
    "ON CONFLICT (plan_id, checkin_id) DO NOTHING RETURNING seq, checkin_id"
)


def _lock_plan(conn: Connection, what: str, plan_id: int) -> None:
    """PostgreSQL: hold the plan's ``what`` writer lock until this transaction ends (module docstring)."""
    conn.execute(text(_LOCK_SQL), {"what": f".{what}", "plan": plan_id})


def _write_checkins_pg(engine: Engine, state: DayState, jobs: list[_Write]) -> None:
    """One transaction for the batches ``jobs``: lock, read the new rows, validate all batches in
    order against the exact ledger, insert the accepted rows in one statement, commit, apply."""
    rows = [r for j in jobs for r in j.rows]
    with engine.begin() as conn:
        _lock_plan(conn, "checkins", state.plan_id)
        with state.lock:
            state.catch_up_checkins(conn)
            outcome = validate_checkins(state.day, state.ledger, rows)
        owner = np.repeat(np.arange(len(jobs)), [len(j.rows) for j in jobs])
        first: dict[str, int] = {}  # row index that accepted each id: its first occurrence not rejected
        rejected = {r.index for r in outcome.rejected}
        for i, r in enumerate(rows):
            if i not in rejected:
                first.setdefault(str(r.get("id") or "").strip(), i)
        accepted = outcome.accepted
        key_of = [jobs[int(owner[first[c["id"]]])].key_id for c in accepted]
        stored: dict[str, int] = {}
        if accepted:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(_INSERT_PG, (
                state.plan_id, [c["id"] for c in accepted], [c["household"] for c in accepted],
                [c["site"] for c in accepted], [c["at"] for c in accepted], [c["people"] for c in accepted],
                [c["tube"] for c in accepted], key_of))
            stored = {str(cid): int(seq) for seq, cid in cursor.fetchall()}
            cursor.close()
    # committed: apply our own rows (the lock guarantees nobody stored any in between)
    mine = sorted((stored[c["id"]], c["id"], c["household"], c["site"], c["people"], c["at"])
                  for c in accepted if c["id"] in stored)
    with state.lock:
        state.apply_rows(mine)
    offsets = np.cumsum([0] + [len(j.rows) for j in jobs])
    by_job_accepted = np.zeros(len(jobs), np.int64)
    for c in accepted:
        if c["id"] in stored:
            by_job_accepted[int(owner[first[c["id"]]])] += 1
    for k, job in enumerate(jobs):
        lo, hi = int(offsets[k]), int(offsets[k + 1])
        mine_rejected = [{"index": r.index - lo, "reason": r.reason} for r in outcome.rejected if lo <= r.index < hi]
        n_accepted = int(by_job_accepted[k])
        job.answer = {"accepted": n_accepted, "duplicates": hi - lo - n_accepted - len(mine_rejected),
                      "rejected": mine_rejected}


def store_checkins(engine: Engine, state: DayState, rows: Sequence[Mapping[str, Any]],
                   key_id: int | None) -> dict[str, Any]:
    """Validate a batch, store what is accepted (idempotent on device id), answer the counts.

    Raises `PlanGone` when the plan was deleted meanwhile.
    """
    if any(r.get("phone") and not (r.get("code") or r.get("household_id")) for r in rows):
        with engine.connect() as conn:
            state.with_details(conn)
    if engine.dialect.name == "postgresql":
        try:
            return state.writes.run(_Write(rows, key_id), lambda jobs: _write_checkins_pg(engine, state, jobs))
        except IntegrityError as exc:  # the plan row is gone: its foreign key fails
            raise PlanGone(state.plan_id) from exc
    try:
        return _store_checkins_sqlite(engine, state, rows, key_id)
    except IntegrityError as exc:
        raise PlanGone(state.plan_id) from exc


def _store_checkins_sqlite(engine: Engine, state: DayState, rows: Sequence[Mapping[str, Any]],
                           key_id: int | None) -> dict[str, Any]:
    """SQLite has one writer at a time; ``BEGIN IMMEDIATE`` takes the write lock before reading, so
    the new rows read, the validation (people left per household) and the insert are one step that
    no other process interleaves: exact, like PostgreSQL under its plan lock."""
    stored = 0
    with engine.connect() as conn, state.lock:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            state.catch_up(conn)
            outcome = validate_checkins(state.day, state.ledger, rows)
            values = [{"plan_id": state.plan_id, "checkin_id": c["id"], "household": c["household"],
                       "site": c["site"], "at": c["at"].astimezone(dt.UTC), "people": c["people"],
                       "tube": c["tube"], "key_id": key_id} for c in outcome.accepted]
            if values:
                statement = sqlite_insert(Checkin).on_conflict_do_nothing(index_elements=["plan_id", "checkin_id"])
                stored = len(conn.execute(statement.returning(Checkin.seq), values).all())
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        state.catch_up(conn)
    answer = outcome.answer()
    answer["duplicates"] += answer["accepted"] - stored  # stored by another worker meanwhile
    answer["accepted"] = stored
    return answer


def store_followups(engine: Engine, state: DayState, records: Sequence[tuple[int, Outcome, str]],
                    key_id: int | None) -> int:
    """Store follow-up outcomes (household index, outcome, note); the newest per household counts."""
    if not records:
        return 0
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            _lock_plan(conn, "followups", state.plan_id)  # seqs committed in order (module docstring)
        conn.execute(Followup.__table__.insert(), [  # type: ignore[attr-defined]
            {"plan_id": state.plan_id, "household": h, "outcome": o.value, "note": note[:200], "key_id": key_id}
            for h, o, note in records])
    with engine.connect() as conn, state.lock:
        state.catch_up(conn)
    return len(records)


def missed_record(state: DayState, i: int, calls: bool) -> dict[str, Any]:
    """Household ``i`` as the missed list shows it; contact and phone only when ``calls``."""
    day = state.day
    b = int(day.building[i])
    name = str(day.building_names[b]) if day.building_names is not None else str(day.building_ids[b])
    unit = str(day.unit[i]) if day.unit is not None else ""
    room = str(day.room[i]) if day.room is not None else ""
    site = int(day.site[i])
    end = int(day.slot_end[i])
    outcome = int(state.ledger.outcome[i])
    return {
        "household_id": str(day.household_ids[i]), "grid": str(day.building_grid[b]),
        "compound": str(day.building_compound[b]),
        "address": address_of(name, unit, room),
        "size": int(day.size[i]), "mode": "site" if site >= 0 else ("home" if end >= 0 else "unplaced"),
        "site_id": day.site_ids[site] if site >= 0 else "", "site": day.site_names[site] if site >= 0 else "",
        "slot_end": day.start + dt.timedelta(minutes=end) if end >= 0 else None,
        "outcome": list(Outcome)[outcome - 1].value if outcome else "",
        "contact": str(day.contacts[i]) if calls and day.contacts is not None else None,
        "phone": str(day.phones[i]) if calls and day.phones is not None else None,
    }


_MISSED_HEADERS = ("网格", "小区", "住址", "户编号", "人数", "采样方式", "采样点", "应采时间", "户主", "联系电话",
                   "跟进结果", "备注")
_MODE_ZH = {"site": "到点采样", "home": "上门采样", "unplaced": "未安排"}


def missed_workbook(state: DayState, households: Sequence[int] | np.ndarray, when: dt.datetime) -> bytes:
    """The missed list as XLSX bytes: one A4 landscape sheet per grid, Chinese headers, with phones."""
    from sampler.io.xlsx import Sheet, write_xlsx

    tz = state.day.start.tzinfo
    local = when.astimezone(tz)
    by_grid: dict[str, list[dict[str, Any]]] = {}
    for i in households:
        r = missed_record(state, int(i), True)
        by_grid.setdefault(r["grid"] or "未分网格", []).append(r)
    sheets = []
    used: set[str] = set()
    for g in sorted(by_grid):
        title = "".join(ch for ch in g if ch not in "[]:*?/\\'")[:28] or "网格"
        while title in used:
            title = f"{title[:25]}{len(used)}"
        used.add(title)
        sheet = Sheet(title, widths=(8, 10, 22, 10, 5, 8, 12, 8, 8, 13, 10, 12)).for_print(2, landscape=True)
        sheet.append([f"{state.day.area} {g} 未采样住户（截至{local:%m月%d日 %H:%M}，共{len(by_grid[g])}户）"], bold=True)
        sheet.append(list(_MISSED_HEADERS), bold=True)
        sheet.freeze_rows = 2
        for r in by_grid[g]:
            end = r["slot_end"].astimezone(tz).strftime("%H:%M") if r["slot_end"] else ""
            sheet.append([r["grid"], r["compound"], r["address"], r["household_id"], r["size"], _MODE_ZH[r["mode"]],
                          r["site"], end, r["contact"] or "", r["phone"] or "",
                          Outcome(r["outcome"]).label if r["outcome"] else "", ""])
        sheets.append(sheet)
    if not sheets:
        empty = Sheet("未采样住户").for_print(1)
        empty.append([f"{state.day.area}：截至{local:%m月%d日 %H:%M}没有未采样住户"], bold=True)
        sheets.append(empty)
    with tempfile.TemporaryDirectory(prefix="sampler-missed-") as tmp:
        path = Path(tmp) / "missed.xlsx"
        write_xlsx(path, sheets, title=f"{state.day.area} 未采样住户")
        return path.read_bytes()
