"""The sampling day in the service: each process keeps every live plan's day in memory.

The database is the one truth: check-ins and follow-ups are rows (`api.models.Checkin`,
`api.models.Followup`) with an increasing ``seq``. A worker process holds, per plan, the plan's
`sampler.day.ledger.DayPlan` (loaded once from the stored plan tables) and a `Ledger` it brings up
to date before every answer by reading only the rows after the last ``seq`` it applied. So
check-ins accepted by one worker are seen by every other, a restart rebuilds the same state, and a
status of a million-household plan is a few numpy reductions.

A batch of check-ins is validated against the ledger, then inserted with ``ON CONFLICT DO NOTHING``
on (plan, device id): a row another worker stored meanwhile counts as a duplicate, never twice.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from api.models import PLAN_TABLES, Checkin, Followup, Plan
from sampler.day.codes import resident_codes
from sampler.day.ledger import CHINA, DayPlan, Ledger, Outcome, validate_checkins
from sampler.notify.contact import address_of

__all__ = ["BIN_MINUTES", "DayCache", "DayState", "load_day_plan", "missed_record", "missed_workbook", "store_checkins",
           "store_followups"]

BIN_MINUTES = 5  # check-in times are kept per site in bins of this many minutes (queue status)

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

    def __post_init__(self) -> None:
        n_bins = int(np.ceil(self.day.hours * 60 / BIN_MINUTES)) + 1
        self.bins = np.zeros((len(self.day.site_ids) + 1, n_bins), np.int64)  # last row: home visits

    def sampled_since(self, site: int, minute: float, span: float) -> int:
        """People checked in at ``site`` in the ``span`` minutes before ``minute`` (whole bins)."""
        hi = int(np.clip(minute // BIN_MINUTES, 0, self.bins.shape[1] - 1))
        lo = int(max(0, hi - span // BIN_MINUTES + 1))
        return int(self.bins[site, lo:hi + 1].sum())

    def catch_up(self, conn: Connection) -> None:
        """Apply the check-ins and follow-ups stored since the last call."""
        rows = conn.execute(
            select(Checkin.seq, Checkin.checkin_id, Checkin.household, Checkin.site, Checkin.people, Checkin.at)
            .where(Checkin.plan_id == self.plan_id, Checkin.seq > self.checkin_seq).order_by(Checkin.seq)
        ).all()
        if rows:
            self.ledger.apply({"id": r.checkin_id, "household": r.household, "site": r.site, "people": r.people}
                              for r in rows)
            self.checkin_seq = int(rows[-1].seq)
            start = self.day.start
            for r in rows:
                at = r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC)
                b = int(np.clip((at - start).total_seconds() // 60 // BIN_MINUTES, 0, self.bins.shape[1] - 1))
                self.bins[r.site if r.site >= 0 else -1, b] += r.people
        fups = conn.execute(
            select(Followup.seq, Followup.household, Followup.outcome)
            .where(Followup.plan_id == self.plan_id, Followup.seq > self.followup_seq).order_by(Followup.seq)
        ).all()
        for f in fups:
            self.ledger.record_outcome(int(f.household), Outcome(f.outcome))
        if fups:
            self.followup_seq = int(fups[-1].seq)


def _minutes(labels: pd.Series, start: dt.datetime) -> np.ndarray:
    """Minutes from the window start of 'YYYY-MM-DD HH:MM' labels (the stored plan's text edge)."""
    naive = start.replace(tzinfo=None)
    parsed = pd.to_datetime(labels, format="%Y-%m-%d %H:%M", errors="coerce")
    minutes = (parsed - naive).dt.total_seconds() / 60.0
    return minutes.fillna(-1).to_numpy(dtype=np.int64)


def load_day_plan(conn: Connection, plan_id: int, secret: bytes, tz: dt.tzinfo = CHINA) -> DayPlan:
    """The day's view of a stored plan: households in registry order (the contacts table's rows)."""
    summary_text, area = conn.execute(select(Plan.summary, Plan.area).where(Plan.id == plan_id)).one()
    summary = json.loads(summary_text)
    window = summary["window"]
    start = dt.datetime.strptime(window["start"], "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    hours = window["slots"] * window["slot_minutes"] / 60.0 if "slots" in window else float(window["hours"])

    def frame(name: str, *cols: str) -> pd.DataFrame:
        t = PLAN_TABLES[name]
        result = conn.execute(select(*(t.c[c] for c in cols)).where(t.c.plan_id == plan_id).order_by(t.c.row))
        return pd.DataFrame(result.fetchall(), columns=list(cols))

    contacts = frame("contacts", "household_id", "contact", "phone")
    ids = contacts["household_id"].astype(str).to_numpy(dtype=object)
    n = len(ids)
    index = pd.Index(ids)
    assignments = frame("assignments", "household_id", "building_id", "unit", "room", "size", "mode", "site_id",
                        "slot_end")
    unplaced = frame("unplaced", "household_id", "building_id", "size")
    # buildings.csv has a row per (building, site, slot) it is called in: one per building here
    buildings = frame("buildings", "building_id", "name", "grid", "compound").drop_duplicates(
        "building_id", ignore_index=True)
    sites = frame("sites", "site_id", "name", "lon", "lat", "tables", "rate")
    b_index = pd.Index(buildings["building_id"].astype(str))
    s_index = pd.Index(sites["site_id"].astype(str))
    size = np.zeros(n, np.int64)
    building = np.zeros(n, np.int64)
    site = np.full(n, -1, np.int64)
    slot_end = np.full(n, -1, np.int64)
    a_rows = index.get_indexer(pd.Index(assignments["household_id"].astype(str)))
    size[a_rows] = assignments["size"].to_numpy(dtype=np.int64)
    building[a_rows] = b_index.get_indexer(pd.Index(assignments["building_id"].astype(str)))
    at_site = (assignments["mode"] == "site").to_numpy()
    site[a_rows[at_site]] = s_index.get_indexer(pd.Index(assignments["site_id"][at_site].astype(str)))
    slot_end[a_rows] = _minutes(assignments["slot_end"], start)
    unit = np.full(n, "", dtype=object)
    room = np.full(n, "", dtype=object)
    unit[a_rows] = assignments["unit"].astype(str).to_numpy(dtype=object)
    room[a_rows] = assignments["room"].astype(str).to_numpy(dtype=object)
    u_rows = index.get_indexer(pd.Index(unplaced["household_id"].astype(str)))
    size[u_rows] = unplaced["size"].to_numpy(dtype=np.int64)
    building[u_rows] = b_index.get_indexer(pd.Index(unplaced["building_id"].astype(str)))
    return DayPlan(
        area=area, household_ids=ids, codes=resident_codes(area, ids, secret), size=size, site=site,
        slot_end=slot_end, building=building,
        building_ids=buildings["building_id"].astype(str).to_numpy(dtype=object),
        building_grid=buildings["grid"].astype(str).to_numpy(dtype=object),
        building_compound=buildings["compound"].astype(str).to_numpy(dtype=object),
        site_ids=sites["site_id"].astype(str).tolist(), site_names=sites["name"].astype(str).tolist(),
        start=start, hours=hours, phones=contacts["phone"].astype(str).to_numpy(dtype=object),
        contacts=contacts["contact"].astype(str).to_numpy(dtype=object), unit=unit, room=room,
        building_names=buildings["name"].astype(str).to_numpy(dtype=object),
        slot_minutes=int(window["slot_minutes"]), site_lon=sites["lon"].astype(float).tolist(),
        site_lat=sites["lat"].astype(float).tolist(),
        site_rate=(sites["tables"].astype(float) * sites["rate"].astype(float) / 60.0).tolist())


class DayCache:
    """Per-process cache of `DayState` by plan id (a plan's arrays are loaded once)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self._states: dict[int, DayState] = {}
        self._lock = threading.Lock()

    def state(self, engine: Engine, plan_id: int) -> DayState:
        """The plan's day, up to date with the database."""
        with self._lock:
            state = self._states.get(plan_id)
        with engine.connect() as conn:
            if state is None:
                day = load_day_plan(conn, plan_id, self.secret)
                state = DayState(plan_id, day, Ledger.empty(day))
                with self._lock:
                    state = self._states.setdefault(plan_id, state)
            with state.lock:
                state.catch_up(conn)
        return state

    def forget(self, plan_id: int) -> None:
        """Drop a plan's day (it was deleted)."""
        with self._lock:
            self._states.pop(plan_id, None)


def store_checkins(engine: Engine, state: DayState, rows: Sequence[Mapping[str, Any]],
                   key_id: int | None) -> dict[str, Any]:
    """Validate a batch, store what is accepted (idempotent on device id), answer the counts."""
    with state.lock:
        outcome = validate_checkins(state.day, state.ledger, rows)
    values = [{"plan_id": state.plan_id, "checkin_id": c["id"], "household": c["household"], "site": c["site"],
               "at": c["at"].astimezone(dt.UTC), "people": c["people"], "tube": c["tube"], "key_id": key_id}
              for c in outcome.accepted]
    stored = 0
    if values:
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(Checkin).on_conflict_do_nothing(index_elements=["plan_id", "checkin_id"])
        with engine.begin() as conn:
            stored = len(conn.execute(statement.returning(Checkin.seq), values).all())
    with engine.connect() as conn, state.lock:
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
