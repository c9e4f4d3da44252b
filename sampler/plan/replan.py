"""Re-plan the rest of a sampling day, or plan the next round, from a previous plan (docs/replan.md).

    plan = replan(scenario, registry, previous, sampled, at=180, close={"S03"})   # same day, at minute 180
    plan = plan_round(scenario, registry, previous)                              # the next round

Both lay the previous plan (`sampler.planfiles.read.PlanFiles`) onto the registry (`previous_plan`)
and call `reassign`, which

1. leaves sampled households as they are (``sampled``; a re-plan only);
2. keeps every other booking that is still feasible: a site booking whose slot starts at or after
   the cutoff, at a site still open in that slot and not now a home visit (a compound newly
   sealed), while the slot has room counting the sampled and those kept before it (call-down order
   within the slot: when tables were taken away the last called lose their place); a home visit at
   or after the cutoff whose household still stays at home;
3. plans everyone else — slot passed, site closed, overflow, newly sealed or lifted, new — with the
   planner itself (`sampler.plan.planner.make_plan` on those households only) into the capacity
   left: per site and slot the capacity less what is kept, per slot the home visits the teams have
   left, both 0 before the cutoff. The flow, packing, repair, widening and bound are the planner's,
   so the plan's guarantees hold: no slot over its capacity counting the bookings, no split
   household, sealed zones at home, buildings together where capacity allows.

4. makes room (`_make_room`) when that pass leaves households unplaced: the kept site bookings at
   the sites those households can reach, of households with room left at another of their own
   candidate sites, are released and planned again with them; the second pass is taken only if
   every released household is placed and more households are placed, and then each released
   household whose old site and slot still have room goes back to it. So a kept booking moves only
   when moving it places someone else (plan.json ``made_room``: released, moved, placed).

Who still cannot be placed is listed unplaced with the reason (the sites within reach and their
slots are full), which is what staff can act on (more tables, another site, a later round). The
bound and gap in plan.json's ``replan``/``round`` block are the planner's proof for the
re-planned households given the kept ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.errors import COMMAND_LINE, InputError, InputIssue
from sampler.io.timefmt import SLOT_FORMAT, format_slot, parse_clock
from sampler.model import (
    FloatArray,
    HouseholdTable,
    IntArray,
    Progress,
    Registry,
    Site,
    StrArray,
    no_progress,
)
from sampler.params import Scenario
from sampler.plan.homevisit import home_capacity
from sampler.plan.planner import MODE_HOME, MODE_SITE, MODE_UNPLACED, Plan, make_plan
from sampler.plan.problem import _arc_lookup, build_problem
from sampler.plan.slots import slot_grid
from sampler.plan.summary import summarise
from sampler.plan.widen import extend_problem
from sampler.planfiles.read import PlanFiles

__all__ = [
    "CHANGES",
    "NOT_IN_PLAN",
    "Previous",
    "changed_households",
    "packed_texts",
    "positions",
    "check_window",
    "parent_record",
    "plan_round",
    "previous_plan",
    "reassign",
    "replan",
    "replan_sites",
    "sampled_from_checkins",
]

CHANGES = ("sampled", "kept", "moved", "home", "new", "unplaced", "closed")
"""Values of a re-plan's ``change`` per household (assignments.csv column ``change``)."""
NOT_IN_PLAN = -1
"""`Previous.mode` of a household the previous plan did not have."""
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Previous:
    """A previous plan laid onto the registry being planned; arrays per household in registry order.

    Attributes
    ----------
    mode
        MODE_SITE, MODE_HOME, MODE_UNPLACED, or NOT_IN_PLAN.
    site
        Index into the registry's sites (−1: home visit, unplaced, or a site no longer listed).
    slot
        Slot index counted from the previous plan's window start (−1: none).
    team, stop, arrival
        Home visits: team, stop and expected arrival (minutes from the window start; NaN: none).
    walk
        Walking minutes to the previous site.
    capacity
        People per (site, slot) of the previous plan, registry sites × its slots (0 for sites it did
        not have).
    parent
        What plan.json records of it (`parent_record`).
    codes
        The resident codes it sent, per household (Arrow texts), when it has one for every household of the
        registry (all different); None otherwise (the new plan's codes are then made afresh, the
        same ones where the secret and the area are the same).
    """

    mode: IntArray
    site: IntArray
    slot: IntArray
    team: IntArray
    stop: IntArray
    arrival: FloatArray
    walk: FloatArray
    capacity: IntArray
    parent: dict[str, Any]
    codes: Any = None


def parent_record(files: PlanFiles) -> dict[str, Any]:
    """The ``parent`` block of plan.json: the previous plan's directory, area, window and the
    SHA-256 of its plan.json (or the checksum its plan.json records, when it has one)."""
    path = files.directory / "plan.json"
    record: dict[str, Any] = {"directory": str(files.directory), "area": files.summary.get("area")}
    window = files.summary.get("window") or {}
    record["window_start"] = window.get("start")
    if "checksum" in files.summary:
        record["checksum"] = files.summary["checksum"]
    elif path.is_file():
        record["plan_json_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    if "id" in files.summary:
        record["id"] = files.summary["id"]
    return record


def _slot_index(labels: pd.Series, start: dt.datetime, minutes: int) -> IntArray:
    """Slot index (from ``start``) of `YYYY-MM-DD HH:MM` labels; −1 for blanks and unreadable ones."""
    inverse, values = pd.factorize(labels.astype(str), sort=False)  # a few hundred labels, hashed not sorted
    out = np.full(len(values), -1, dtype=np.int64)
    base = start.replace(tzinfo=None)
    for i, v in enumerate(values.tolist()):
        try:
            when = dt.datetime.strptime(v, SLOT_FORMAT)
        except ValueError:
            continue
        out[i] = int((when - base).total_seconds() // 60) // minutes
    return out[inverse] if len(inverse) else np.zeros(0, dtype=np.int64)


def _minutes(labels: pd.Series, start: dt.datetime) -> FloatArray:
    """Minutes from ``start`` of `YYYY-MM-DD HH:MM` labels (NaN where blank)."""
    when = pd.to_datetime(labels.astype(str), format=SLOT_FORMAT, errors="coerce")
    delta = (when - pd.Timestamp(start.replace(tzinfo=None))).dt.total_seconds() / 60.0
    return np.asarray(delta.to_numpy(dtype=np.float64), dtype=np.float64)


def check_window(files: PlanFiles, scenario: Scenario) -> None:
    """InputError unless the previous plan's window (plan.json) is the scenario's: a re-plan is of
    the same day."""
    window = files.summary.get("window") or {}
    want = {"start": format_slot(scenario.window.start_time), "slots": scenario.window.n_slots,
            "slot_minutes": scenario.window.slot_minutes}
    for key, value in want.items():
        if window.get(key) != value:
            raise InputError([InputIssue(str(files.directory / "plan.json"), None, f"window.{key}",
                                         str(window.get(key)), f"the scenario's window has {value}: re-plan a plan "
                                         "of this scenario's day (for the next day use `sampler plan --previous`)")])


def previous_plan(files: PlanFiles, registry: Registry) -> Previous:
    """Lay a previous plan onto ``registry`` by household and site id (households or sites it does
    not list are NOT_IN_PLAN / −1); slots are counted from the previous window's start."""
    hh = registry.households
    n = len(hh)
    window = files.summary.get("window") or {}
    try:
        start = dt.datetime.strptime(str(window["start"]), SLOT_FORMAT)
        minutes = int(window["slot_minutes"])
        n_slots = int(window["slots"])
    except (KeyError, ValueError, TypeError):
        raise InputError([InputIssue(str(files.directory / "plan.json"), None, "window", str(window)[:120],
                                     "give a plan directory written by `sampler plan` (its plan.json names the window)")]) from None
    arrow_ids = hh.arrow("id")
    ids = np.asarray(hh.id, dtype=object).astype(str) if arrow_ids is None else arrow_ids
    site_ids = pd.Index([s.id for s in registry.sites])
    mode = np.full(n, NOT_IN_PLAN, dtype=np.int64)
    site = np.full(n, -1, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    team = np.full(n, -1, dtype=np.int64)
    stop = np.zeros(n, dtype=np.int64)
    arrival = np.full(n, np.nan)
    walk = np.zeros(n, dtype=np.float64)
    a = files.assignments
    hv, unplaced = files.home_visits, files.unplaced
    row, hrow, un = positions_of(ids, a["household_id"], hv["household_id"], unplaced["household_id"])
    ok = row >= 0
    r = row[ok]
    is_site = (a["mode"].astype(str) == "site").to_numpy()[ok]
    mode[r] = np.where(is_site, MODE_SITE, MODE_HOME)
    site[r] = np.where(is_site, positions(list(site_ids), a["site_id"])[ok], -1)
    mode[r[is_site & (site[r] < 0)]] = MODE_UNPLACED  # its site is gone: to be planned again
    slot[r] = _slot_index(a["slot_start"], start, minutes)[ok]
    team[r] = np.where(is_site, -1, a["team"].fillna(-1).to_numpy(dtype=np.int64)[ok])
    walk[r] = a["walk_minutes"].to_numpy(dtype=np.float64)[ok]
    hok = hrow >= 0
    stop[hrow[hok]] = hv["stop"].to_numpy(dtype=np.int64)[hok]
    arrival[hrow[hok]] = _minutes(hv["arrival"], start)[hok]
    mode[un[un >= 0]] = MODE_UNPLACED
    capacity = np.zeros((len(registry.sites), n_slots), dtype=np.int64)
    sl = files.site_load
    s_of = site_ids.get_indexer(pd.Index(sl["site_id"].astype(str)))
    t_of = _slot_index(sl["slot_start"], start, minutes)
    good = (s_of >= 0) & (t_of >= 0) & (t_of < n_slots)
    capacity[s_of[good], t_of[good]] = sl["capacity"].to_numpy(dtype=np.int64)[good]
    return Previous(mode, site, slot, team, stop, arrival, walk, capacity, parent_record(files),
                    _previous_codes(files, ids))


def _previous_codes(files: PlanFiles, ids: Any) -> Any:
    """The previous plan's resident codes in registry order, when it has one for every household
    and no two are the same; None otherwise."""
    c = files.contacts
    if "code" not in c.columns or len(c) < len(ids):
        return None
    import pyarrow.compute as pc

    where = positions(ids, c["household_id"])
    ok = np.flatnonzero(where >= 0)
    row = np.full(len(ids), -1, dtype=np.int64)
    row[where[ok]] = ok
    if (row < 0).any():
        return None
    codes = _text_array(c["code"]).take(row)
    if pc.any(pc.equal(codes, "")).as_py() or not _distinct(codes):
        return None
    return codes  # Arrow texts: the plan writer takes them as they are


def _distinct(texts: Any) -> bool:
    """Whether no two of the Arrow texts are the same. Codes of one length are compared as fixed
    bytes, sorted (three times faster than hashing a million texts)."""
    import pyarrow.compute as pc

    texts = texts.combine_chunks() if hasattr(texts, "combine_chunks") else texts
    span = pc.min_max(pc.binary_length(texts)).as_py() if len(texts) else {}
    if not span or texts.null_count or texts.offset or span["min"] != span["max"]:
        return bool(pc.count_distinct(texts).as_py() == len(texts))
    width = int(span["min"])
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64, count=len(texts) + 1)
    data = np.frombuffer(texts.buffers()[2], dtype=f"S{width}" if width else "S1", count=len(texts) if width else 0,
                         offset=int(offsets[0]))
    ordered = np.sort(data.view(np.uint64) if width == 8 else data)
    return not bool((ordered[1:] == ordered[:-1]).any())


def _subset(hh: HouseholdTable, rows: IntArray) -> HouseholdTable:
    """The households ``rows`` as a table (text columns held as Arrow stay Arrow: `HouseholdTable.with_text`)."""
    import pyarrow as pa

    from sampler.model import TEXT_COLUMNS

    names = ["id", "building", "unit", "room", "size", "elderly", "children", "contact", "phone", "needs", "preferred"]
    text: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    take = pa.array(rows, type=pa.int64())
    for name in names:
        arrow = hh.arrow(name) if name in TEXT_COLUMNS else None
        if arrow is not None:
            text[name] = arrow.take(take)
        else:
            columns[name] = np.asarray(getattr(hh, name))[rows]
    return HouseholdTable.with_text(text, **columns)


def _within_cell_prefix(cell: IntArray, size: IntArray, room: IntArray) -> BoolArray:
    """For items sorted by cell (then priority): whether each fits, whole, in its cell's ``room``
    counting those before it in the cell (a prefix: once one does not fit, none after it does)."""
    if not len(cell):
        return np.zeros(0, dtype=bool)
    cum = np.cumsum(size)
    first = np.r_[True, cell[1:] != cell[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(cell)), 0))
    before = np.r_[0, cum][start]
    return np.asarray(cum - before <= room)


def reassign(scenario: Scenario, registry: Registry, previous: Previous, *, sampled: BoolArray, cutoff: int,
             capacity: IntArray, keep_bookings: bool = True, make_room: bool = True,
             outcomes: Sequence[str] | npt.NDArray[Any] | None = None,
             progress: Progress | None = None) -> tuple[Plan, dict[str, Any]]:
    """Keep what is still feasible of ``previous``, plan the rest into what is left (module docstring).

    ``keep_bookings=False`` keeps only the sampled and plans every other household afresh (the
    from-scratch baseline of benchmarks/replan.py: how many more residents it moves).
    ``make_room=False`` never moves a kept booking to place others (`_make_room`).
    ``outcomes``: per household the newest follow-up outcome of a grid worker (`Outcome` values,
    '' for none): ``home_visit`` households are visited at home from the cutoff; ``away``,
    ``refused`` and ``sampled_elsewhere`` ones get no new slot (``closed``, listed unplaced with
    the outcome as the reason) unless they are sampled.

    ``capacity`` is people per (site, slot) of the new plan (registry sites × the window's slots);
    nobody re-planned gets a slot before ``cutoff`` (a slot index). Returns the plan (with its
    ``change`` per household and the whole plan's summary, not yet the caller's block) and the
    counts and bound of the re-planned part for that block.
    """
    progress = progress or no_progress
    clock0 = time.perf_counter()
    hh = registry.households
    n = len(hh)
    pm, ps, pt = previous.mode, previous.site, previous.slot
    fixed = np.asarray(sampled, dtype=bool) & (pm != NOT_IN_PLAN)
    at_home, closed, closed_reason = _followups(outcomes, n, fixed)
    full = build_problem(scenario, registry, capacity, at_home=at_home)
    grid = full.grid
    size = hh.size.astype(np.int64)
    in_grid = (pt >= 0) & (pt < grid.n)
    fixed_site = fixed & (pm == MODE_SITE) & (ps >= 0) & in_grid
    load = np.zeros_like(grid.capacity)
    np.add.at(load, (ps[fixed_site], pt[fixed_site]), size[fixed_site])

    # Site bookings still feasible, in call-down order within each (site, slot).
    could = ~fixed & ~closed & (pm == MODE_SITE) & (ps >= 0) & in_grid & (pt >= cutoff) & ~full.home & keep_bookings
    could[could] = grid.capacity[ps[could], pt[could]] > 0
    rank = np.empty(n, dtype=np.int64)
    rank[full.queue] = np.arange(n)
    idx = np.flatnonzero(could)
    cell = ps[idx] * grid.n + pt[idx]
    order = np.lexsort((rank[idx], cell))
    idx, cell = idx[order], cell[order]
    room = (grid.capacity - load).ravel()[cell]
    kept_site = idx[_within_cell_prefix(cell, size[idx], room)]
    kept = np.zeros(n, dtype=bool)
    kept[kept_site] = True
    kept |= ~fixed & ~closed & (pm == MODE_HOME) & in_grid & (pt >= cutoff) & full.home & keep_bookings
    booked = fixed_site | (kept & (pm == MODE_SITE))
    load = np.zeros_like(grid.capacity)
    np.add.at(load, (ps[booked], pt[booked]), size[booked])
    residual = np.maximum(grid.capacity - load, 0)
    residual[:, :cutoff] = 0
    home_booked = (fixed | kept) & (pm == MODE_HOME) & in_grid
    home_left = home_capacity(scenario.home_visits, grid.minutes, grid.n) - np.bincount(pt[home_booked], minlength=grid.n)
    home_left = np.maximum(home_left, 0)
    home_left[:cutoff] = 0

    todo = np.flatnonzero(~fixed & ~kept & ~closed)
    progress("re-planning", 0.1)

    def step(stage: str, done: float) -> None:
        progress(stage, 0.1 + 0.8 * done)

    sub_registry = replace(registry, households=_subset(hh, todo))
    sub = make_plan(scenario, sub_registry, step, capacity=residual, home_capacity=home_left, candidates=full.cand,
                    at_home=at_home[todo])
    made_room: dict[str, Any] = {"released": 0, "moved": 0, "placed": 0, "second_pass": False}
    if make_room and keep_bookings:
        room_pass = _make_room(scenario, registry, full, previous, kept, todo, sub, residual, home_left, step, at_home)
        if room_pass is not None:
            kept, todo, sub, made_room = room_pass
    progress("checks", 0.9)

    # Merge: sampled and kept as they were, the rest from the sub-plan.
    keep = fixed | kept
    mode = np.where(keep, np.where(pm < 0, MODE_UNPLACED, pm), MODE_UNPLACED).astype(np.int64)
    site = np.where(keep & (pm == MODE_SITE), ps, -1).astype(np.int64)
    slot = np.where(keep & (pm != MODE_UNPLACED), pt, -1).astype(np.int64)
    team = np.where(keep & (pm == MODE_HOME), previous.team, -1).astype(np.int64)
    walk = np.where(keep & (pm == MODE_SITE), previous.walk, 0.0)
    reason = np.where(keep & (pm == MODE_HOME), full.reason, "").astype(object)
    mode[todo], site[todo], slot[todo], team[todo] = sub.mode, sub.site, sub.slot, sub.team
    walk[todo], reason[todo] = sub.walk, sub.reason
    reason[closed] = closed_reason[closed]
    stop = np.where(keep & (pm == MODE_HOME), previous.stop, 0).astype(np.int64)
    arrival = np.where(keep & (pm == MODE_HOME), previous.arrival, np.nan)
    new_home = todo[sub.mode == MODE_HOME]
    stop[new_home], arrival[new_home] = _stops_after(team, stop, slot, rank, new_home, home_booked, grid.minutes)
    arrival = np.where((mode == MODE_HOME) & np.isnan(arrival), slot * grid.minutes, arrival)

    change = np.full(n, "moved", dtype=object)
    same = (mode == pm) & (slot == pt) & ((mode != MODE_SITE) | (site == ps))
    change[(mode == MODE_HOME) & ~same] = "home"
    change[same & (mode != MODE_UNPLACED)] = "kept"
    change[(pm == NOT_IN_PLAN) & (mode != MODE_UNPLACED)] = "new"
    change[mode == MODE_UNPLACED] = "unplaced"
    change[closed] = "closed"
    change[fixed] = "sampled"

    # Closed households asked for no slot: not site households short of tables (summarise's shortfall).
    problem = replace(full, home=full.home | closed) if closed.any() else full
    summary = _score(problem, mode, site, slot, walk, str(sub.summary["repair"]))
    if closed.any():  # listed in unplaced.csv with their outcome, but not for want of a place: no penalty
        from sampler.plan.flow import COST_SCALE

        penalty = int(size[closed].sum()) * full.unplaced_cost / COST_SCALE
        summary["objective"] -= penalty
        summary["objective_parts"]["unplaced"] -= penalty
        summary["closed_households"] = int(closed.sum())
    codes, names = pd.factorize(change)
    tally = dict(zip(names, np.bincount(codes, minlength=len(names)).tolist(), strict=True))
    counts = {k: int(tally.get(k, 0)) for k in CHANGES}
    s = sub.summary
    block = {
        "households": n,
        **{k: counts[k] for k in CHANGES},
        "moved_people": int(size[(change == "moved") | (change == "home")].sum()),
        "made_room": made_room,
        "replanned": {
            "households": len(todo), "objective": s["objective"], "lower_bound": s["lower_bound"],
            "gap": s["gap"], "violations": s["violations"], "repair": s["repair"],
        },
    }
    plan = Plan(scenario, registry, grid, mode, site, slot, team, walk, reason, summary, stop, arrival, change,
                codes=previous.codes)
    summary["timing"] = {**(s.get("timing") or {}),
                         "solve_seconds": round(time.perf_counter() - clock0, 3)}
    progress("done", 1.0)
    return plan, block


def _followups(outcomes: Sequence[str] | npt.NDArray[Any] | None, n: int,
               sampled: BoolArray) -> tuple[BoolArray, BoolArray, npt.NDArray[np.object_]]:
    """(visited at home, given no new slot, the reason of those) per household from the newest
    follow-up outcomes (`reassign`); nothing for the sampled."""
    from sampler.day.ledger import Outcome

    at_home = np.zeros(n, dtype=bool)
    closed = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    if outcomes is None:
        return at_home, closed, reason
    values = np.asarray(outcomes, dtype=object).astype(str)
    if len(values) != n:
        raise ValueError(f"outcomes must have one value per household ({n}), got {len(values)}")
    known = {o.value for o in Outcome}
    unknown = sorted(set(np.unique(values).tolist()) - known - {""})
    if unknown:
        raise ValueError(f"unknown follow-up outcomes {unknown[:5]}; use one of {sorted(known)}")
    at_home = (values == Outcome.HOME_VISIT.value) & ~sampled
    for o in Outcome:
        if o.closes:
            hit = (values == o.value) & ~sampled
            closed |= hit
            reason[hit] = f"follow-up: {o.value.replace('_', ' ')} ({o.label}); no new slot"
    return at_home, closed, reason


def _make_room(scenario: Scenario, registry: Registry, full: Any, previous: Previous, kept: BoolArray,
               todo: IntArray, sub: Plan, residual: IntArray, home_left: IntArray,
               progress: Progress, at_home: BoolArray) -> tuple[BoolArray, IntArray, Plan, dict[str, Any]] | None:
    """Move kept bookings only where that places households the first pass left unplaced.

    Releases the kept site bookings at the sites the unplaced households can reach, of households
    whose own candidate sites have room left elsewhere (others could only take the same places
    back), and plans them again together with the first pass's households. The second pass is
    taken only if every released household is placed and more households are placed than before;
    then every released household that can go back to its old site and slot (room left there,
    in call-down order) does, so that only those whose move made the room are moved.
    Returns (kept, todo, sub-plan, the ``made_room`` counts), or None when nothing is gained.
    """
    hh = registry.households
    n_sites = len(registry.sites)
    lost = todo[sub.mode == MODE_UNPLACED]
    if not len(lost) or not n_sites:
        return None
    pm, ps, pt = previous.mode, previous.site, previous.slot
    size = hh.size.astype(np.int64)
    _, arc = full.candidate_arcs(np.unique(hh.building[lost]))
    reach = np.zeros(n_sites, dtype=bool)
    reach[full.cand.site[arc]] = True
    # Room the first pass left, per site: where a released household could go.
    left = residual.copy()
    placed = sub.mode == MODE_SITE
    np.subtract.at(left, (sub.site[placed], sub.slot[placed]), sub.registry.households.size[placed].astype(np.int64))
    site_room = left.max(axis=1) if left.shape[1] else np.zeros(n_sites, dtype=np.int64)
    movable = np.flatnonzero(kept & (pm == MODE_SITE) & (ps >= 0))
    movable = movable[reach[ps[movable]]]
    if not len(movable):
        return None
    buildings = np.unique(hh.building[movable])
    group, arc = full.candidate_arcs(buildings)
    outlet = np.zeros(len(buildings), dtype=bool)
    np.logical_or.at(outlet, group, site_room[full.cand.site[arc]] > 0)
    movable = movable[outlet[np.searchsorted(buildings, hh.building[movable])]]
    if not len(movable):
        return None
    residual2 = residual.copy()
    np.add.at(residual2, (ps[movable], pt[movable]), size[movable])
    todo2 = np.union1d(todo, movable)
    sub2 = make_plan(scenario, replace(registry, households=_subset(hh, todo2)), progress,
                     capacity=residual2, home_capacity=home_left, candidates=full.cand, at_home=at_home[todo2])
    at_released = np.searchsorted(todo2, movable)
    lost2 = int((sub2.mode == MODE_UNPLACED).sum())
    if (sub2.mode[at_released] == MODE_UNPLACED).any() or lost2 >= len(lost):
        return None
    # Settle: each released household goes back to its old site and slot where that has room, or
    # where it can trade places with a household that moves anyway (one of the first pass's, or a
    # released one not at its own place) and that may use the released household's new site.
    mode2, site2, slot2 = sub2.mode.copy(), sub2.site.copy(), sub2.slot.copy()
    walk2 = np.asarray(sub2.walk, dtype=np.float64).copy()
    _settle(full, hh, todo2, movable, at_released, previous, residual2, mode2, site2, slot2, walk2)
    moved = int(((mode2[at_released] != MODE_SITE) | (site2[at_released] != ps[movable])
                 | (slot2[at_released] != pt[movable])).sum())
    if (site2 != sub2.site).any() or (slot2 != sub2.slot).any():
        sub2 = replace(sub2, mode=mode2, site=site2, slot=slot2, walk=walk2)
        sub2 = replace(sub2, summary=_rescored(scenario, sub2, residual2, home_left, full.cand, at_home[todo2]))
    kept = kept.copy()
    kept[movable] = False
    return kept, todo2, sub2, {"released": len(movable), "moved": moved, "placed": len(lost) - lost2,
                               "second_pass": True}


def _settle(full: Any, hh: HouseholdTable, todo: IntArray, released: IntArray, at_released: IntArray,
            previous: Previous, capacity: IntArray, mode: IntArray, site: IntArray, slot: IntArray,
            walk: FloatArray) -> None:
    """Move released households back to their old (site, slot) in call-down order, in place
    (`_make_room`): directly where the cell has room, else by trading places with a household of
    that cell that moves anyway, when both cells stay within capacity and the other household may
    use the released one's site (a candidate arc)."""
    n_sites = max(len(full.registry.sites), 1)
    keys, pos = _arc_lookup(full.cand, n_sites)
    size = hh.size.astype(np.int64)[todo]
    building = hh.building[todo]
    old_site, old_slot = previous.site[todo], previous.slot[todo]
    load = np.zeros_like(capacity)
    on = mode == MODE_SITE
    np.add.at(load, (site[on], slot[on]), size[on])
    cells: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(on).tolist():
        cells.setdefault((int(site[i]), int(slot[i])), []).append(i)

    def home(j: int) -> bool:  # at its own old place: a released one settled, or one the first pass put back
        return bool(mode[j] == MODE_SITE and site[j] == old_site[j] and slot[j] == old_slot[j])

    def arc_walk(j: int, s: int) -> float | None:
        key = int(building[j]) * n_sites + s
        i = int(np.searchsorted(keys, key))
        return float(full.cand.walk[pos[i]]) if i < len(keys) and keys[i] == key else None

    def put(j: int, s: int, t: int, w: float) -> None:
        if mode[j] == MODE_SITE:
            cells[(int(site[j]), int(slot[j]))].remove(j)
            load[site[j], slot[j]] -= size[j]
        cells.setdefault((s, t), []).append(j)
        load[s, t] += size[j]
        mode[j], site[j], slot[j], walk[j] = MODE_SITE, s, t, w

    rank = np.empty(len(hh), dtype=np.int64)
    rank[full.queue] = np.arange(len(hh))
    for j in (int(x) for x in at_released[np.argsort(rank[released], kind="stable")]):
        if home(j):
            continue
        c = (int(old_site[j]), int(old_slot[j]))
        back = float(previous.walk[todo[j]])
        if load[c] + size[j] <= capacity[c]:
            put(j, *c, back)
            continue
        d = (int(site[j]), int(slot[j]))
        for x in sorted(cells.get(c, [])):
            if home(x):
                continue
            w = arc_walk(x, d[0])
            if w is None or load[c] - size[x] + size[j] > capacity[c] or load[d] - size[j] + size[x] > capacity[d]:
                continue
            put(j, *c, back)
            put(x, *d, w)
            break


def _score(problem: Any, mode: IntArray, site: IntArray, slot: IntArray, walk: FloatArray,
           repair: str) -> dict[str, Any]:
    """`summarise` of a plan's arrays without a bound, scored with the arcs it uses (kept or
    settled walks may be arcs the candidates lack now)."""
    hh = problem.registry.households
    at = np.flatnonzero(mode == MODE_SITE)
    scored = extend_problem(problem, hh.building[at], site[at], walk[at]) if len(at) else problem
    return summarise(scored, mode, site, slot, walk, scored.arc_index(hh.building[at], site[at]),
                     lower_cost=None, repair_method=repair)


def _rescored(scenario: Scenario, plan: Plan, capacity: IntArray, home_left: IntArray, cand: Any,
              at_home: BoolArray) -> dict[str, Any]:
    """``plan.summary`` with the objective, gap and violations of its (settled) arrays; the proven
    bound is the one its solve found (settling moves site households only, home visits unchanged)."""
    problem = build_problem(scenario, plan.registry, capacity, home_left, cand, at_home)
    again = _score(problem, plan.mode, plan.site, plan.slot, plan.walk, str(plan.summary["repair"]))
    lower, objective = plan.summary["lower_bound"], again["objective"]
    gap = None if lower is None else ((objective - lower) / objective if objective > 0 else 0.0)
    return {**plan.summary, "objective": objective, "objective_parts": again["objective_parts"],
            "violations": again["violations"], "gap": gap}


def _stops_after(team: IntArray, stop: IntArray, slot: IntArray, rank: IntArray, new: IntArray,
                 booked: BoolArray, minutes: int) -> tuple[IntArray, FloatArray]:
    """Stops of newly scheduled home visits: after each team's kept stops, by slot and call-down
    order (a new stop per building), arriving at the slot's start."""
    if not len(new):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    n_teams = int(max(team.max(initial=0), 0)) + 1
    last = np.zeros(n_teams + 1, dtype=np.int64)
    b = np.flatnonzero(booked & (team >= 0))
    np.maximum.at(last, team[b], stop[b])
    t = team[new]
    order = np.lexsort((rank[new], slot[new], t))
    tt, ss = t[order], slot[new][order]
    first = np.r_[True, tt[1:] != tt[:-1]]
    newstop = np.r_[True, (tt[1:] != tt[:-1]) | (ss[1:] != ss[:-1])]  # a slot's households of one team: one run
    run = np.cumsum(newstop)
    within = run - np.maximum.accumulate(np.where(first, run - 1, 0))
    out = np.empty(len(new), dtype=np.int64)
    out[order] = last[np.maximum(tt, 0)] + within
    return out, (slot[new] * minutes).astype(np.float64)


def replan_sites(registry: Registry, files: PlanFiles, *, close: Iterable[str] = (), tables: Mapping[str, int] | None = None,
                 extra: Sequence[Site] = (), source: str = COMMAND_LINE) -> tuple[Site, ...]:
    """The sites of a re-plan: the previous plan's (as its sites.csv lists them; the registry's
    when the same ids), tables changed, ``extra`` appended; InputError naming the option and value
    for an unknown site in ``close``/``tables``, a bad table count or a duplicate new site id."""
    tables = dict(tables or {})
    by_id = {s.id: s for s in registry.sites}
    listed = files.sites
    sites: list[Site] = []
    for rec in listed.to_dict("records"):
        sid = str(rec["site_id"])
        if sid in by_id:
            sites.append(by_id[sid])
            continue
        sites.append(Site(sid, str(rec["name"]), float(rec["lon"]), float(rec["lat"]), int(rec["tables"]),
                          float(rec["rate"]), parse_clock(str(rec["open"])), parse_clock(str(rec["close"])),
                          tuple(x for x in str(rec["serves"]).split(";") if x), float(rec["queue_m"])))
    known = {s.id for s in sites}
    problems = [InputIssue(source, None, "--close", sid, f"no site {sid!r} in the plan; give ids from its sites.csv")
                for sid in close if sid not in known]
    for sid, count in tables.items():
        if sid not in known:
            problems.append(InputIssue(source, None, "--tables", f"{sid}={count}",
                                       f"no site {sid!r} in the plan; give ids from its sites.csv"))
        elif count < 1:
            problems.append(InputIssue(source, None, "--tables", f"{sid}={count}",
                                       "give at least 1 table (close a site with --close)"))
    for s in extra:
        if s.id in known:
            problems.append(InputIssue(source, None, "--sites", s.id,
                                       "a site of that id is in the plan already; give new sites new ids"))
    if problems:
        raise InputError(problems)
    sites = [replace(s, tables=tables[s.id]) if s.id in tables else s for s in sites]
    return (*sites, *extra)


def sampled_from_checkins(files: PlanFiles, registry: Registry, rows: Sequence[Mapping[str, Any]], at: float,
                          file: str) -> tuple[BoolArray, int]:
    """Households with a check-in at or before minute ``at`` (registry order), and how many rows
    were later; InputError naming every row that matches nothing of the plan (file, row, field,
    value). A household partly sampled counts as sampled (the rest of it is on the missed list)."""
    from sampler.day.ledger import CHINA, DayPlan, Ledger, validate_checkins

    hh = registry.households
    n = len(hh)
    arrow_ids = hh.arrow("id")
    ids = np.asarray(hh.id, dtype=object).astype(str) if arrow_ids is None else arrow_ids
    codes = np.full(n, "", dtype=object)
    c = files.contacts
    if "code" in c.columns and len(c):
        where = positions(ids, c["household_id"].astype(str))
        ok = where >= 0
        codes[where[ok]] = c["code"].astype(str).to_numpy()[ok]
    window = files.summary.get("window") or {}
    start = dt.datetime.strptime(str(window.get("start")), SLOT_FORMAT).replace(tzinfo=CHINA)
    hours = int(window.get("slots", 0)) * int(window.get("slot_minutes", 0)) / 60.0
    no = np.zeros(1, dtype=object)
    day = DayPlan(area=str(files.summary.get("area", "")), household_ids=np.asarray(hh.id, dtype=object), codes=codes,
                  size=np.asarray(hh.size, dtype=np.int64), site=np.full(n, -1, np.int64), slot_end=np.zeros(n, np.int64),
                  building=np.zeros(n, np.int64), building_ids=no, building_grid=no, building_compound=no,
                  site_ids=files.sites["site_id"].astype(str).tolist(), site_names=files.sites["name"].astype(str).tolist(),
                  start=start, hours=hours)
    fast = _sampled_fast(day, rows, at)
    if fast is not None:
        return fast
    outcome = validate_checkins(day, Ledger.empty(day), rows)
    if outcome.rejected:
        problems = []
        for r in outcome.rejected[:200]:
            row = rows[r.index]
            field = next((k for k in ("code", "household_id", "phone", "site_id", "at", "people")
                          if r.reason.startswith(k.split("_")[0])), "(row)")
            problems.append(InputIssue(file, int(row.get("row", r.index + 1)), field, str(row.get(field, "")), r.reason))
        raise InputError(problems)
    sampled = np.zeros(n, dtype=bool)
    later = 0
    for acc in outcome.accepted:
        if acc["minute"] <= at + 1e-9:
            sampled[int(acc["household"])] = True
        else:
            later += 1
    return sampled, later


_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def _text_array(values: Any) -> Any:
    """Texts (numpy, pandas or Arrow) as one Arrow large_string array."""
    import pyarrow as pa

    if isinstance(values, pd.Series):
        if not isinstance(values.dtype, pd.StringDtype):
            values = values.astype(str)
        values = pa.array(values, from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.large_string())
    return pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)


def positions(keys: Any, values: Any) -> IntArray:
    """Where each of ``values`` is in ``keys`` (texts; the first place when one is there twice,
    except that ``values`` equal to ``keys`` in the same order map to themselves — the callers'
    keys, registry ids, are distinct), −1 where it is not: an Arrow hash lookup, some ten times
    faster than a pandas Index of a million texts."""
    import pyarrow.compute as pc

    keys, values = _text_array(keys), _text_array(values)
    if len(keys) == len(values) and pc.all(pc.equal(keys, values), skip_nulls=False).as_py() is True:
        return np.arange(len(values), dtype=np.int64)  # the same texts in the same order (a plan's own files)
    packed_keys, packed_values = packed_texts(keys), packed_texts(values)
    if packed_keys is not None and packed_values is not None and packed_keys[1] == packed_values[1]:
        # Texts of one width of at most 8 bytes (resident codes): integers in a hash table.
        index = pd.Index(packed_keys[0])
        if not index.is_unique:  # the first place of each: drop later repeats
            first = ~index.duplicated()
            at = pd.Index(packed_keys[0][first]).get_indexer(pd.Index(packed_values[0]))
            return np.where(at >= 0, np.flatnonzero(first)[at], -1).astype(np.int64)
        return np.asarray(index.get_indexer(pd.Index(packed_values[0])), dtype=np.int64)
    found = pc.index_in(values, value_set=keys)
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def packed_texts(texts: Any) -> tuple[npt.NDArray[np.uint64], int] | None:
    """Arrow texts that all have one width of 1–8 bytes as one integer each (the bytes, zero
    padded; equal texts give equal integers) and that width; None otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if texts.null_count or not len(texts):
        return None
    if texts.type != pa.large_string():
        texts = texts.cast(pa.large_string())
    span = pc.min_max(pc.binary_length(texts)).as_py()
    width = span["min"]
    if width != span["max"] or not 1 <= width <= 8:
        return None
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64, count=len(texts) + 1, offset=8 * texts.offset)
    data = np.frombuffer(texts.buffers()[2], dtype=f"S{width}", count=len(texts), offset=int(offsets[0]))
    return (data.view(np.uint64) if width == 8 else data.astype("S8").view(np.uint64)), width


def positions_of(keys: Any, *columns: Any) -> list[IntArray]:
    """`positions` of each of ``columns`` in ``keys``, with one hash of the keys for all."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _text_array(keys)
    parts = [_text_array(c) for c in columns]
    # A column with the keys' texts in the keys' order (a plan's assignments when all are placed)
    # needs no hashing; the others are looked up together.
    same = [len(p) == len(keys) and pc.all(pc.equal(keys, p), skip_nulls=False).as_py() is True for p in parts]
    rest = [p for p, eq in zip(parts, same, strict=True) if not eq]
    found = positions(keys, pa.concat_arrays(rest)) if rest else np.zeros(0, dtype=np.int64)
    bounds = np.cumsum([0] + [len(p) for p in rest])
    out: list[IntArray] = []
    k = 0
    for eq in same:
        if eq:
            out.append(np.arange(len(keys), dtype=np.int64))
        else:
            out.append(found[bounds[k]:bounds[k + 1]])
            k += 1
    return out


def _sampled_fast(day: Any, rows: Sequence[Mapping[str, Any]], at: float) -> tuple[BoolArray, int] | None:
    """`sampled_from_checkins` in arrays for a clean export keyed by code (a million rows in about
    a second; `validate_checkins` takes one row at a time). None as soon as any row is not plainly
    valid — keyed otherwise, unknown, outside the window, odd people counts — and the row-by-row
    validation then names what is wrong; it accepts exactly what that validation accepts."""
    from sampler.day.codes import normalise_code
    from sampler.day.files import CheckinRows

    if not len(rows):
        return np.zeros(len(day), dtype=bool), 0
    keys = ("id", "code", "site_id", "at", "people")
    frame = pd.DataFrame({k: rows.columns[k] for k in keys} if isinstance(rows, CheckinRows)
                         else {k: [r.get(k) for r in rows] for k in keys})
    cid = frame["id"].fillna("").astype(str).str.strip()
    if ((cid == "") | (cid.str.len() > 64)).any():
        return None
    frame = frame[~cid.duplicated().to_numpy()]
    codes = frame["code"].fillna("").astype(str)
    if (codes == "").any():
        return None
    household = positions(day.codes, codes)
    typed = household < 0  # typed loosely (lower case, spaces): as `_household_of` reads them
    if typed.any():
        household[typed] = positions(day.codes, [normalise_code(c) for c in codes[typed].tolist()])
    site_code, site_values = pd.factorize(frame["site_id"].fillna("").astype(str).str.strip())
    site_ok = pd.Index(site_values).isin(["", "home"]) | (pd.Index(list(day.site_ids)).get_indexer(site_values) >= 0)
    at_code, at_values = pd.factorize(frame["at"].astype(str).str.strip())
    at_text = pd.Series(at_values, dtype=object)
    when = pd.to_datetime(at_text, utc=True, format="ISO8601", errors="coerce")
    at_minute = np.array((when - pd.Timestamp(day.start)).dt.total_seconds() / 60.0, dtype=np.float64)
    at_minute[~at_text.str.contains(_OFFSET).to_numpy()] = np.nan  # no offset: refused row by row
    minute = at_minute[at_code]
    p_code, p_values = pd.factorize(frame["people"].fillna("").astype(str).str.strip())
    p_text = pd.Series(p_values, dtype=object)
    p_blank = (p_text == "").to_numpy()
    p_ok = p_blank | p_text.str.fullmatch(r"\d+").to_numpy()
    p_num = pd.to_numeric(p_text.where(p_ok & ~p_blank, "0"), errors="coerce").to_numpy(dtype=np.float64)
    blank = p_blank[p_code]
    size = np.asarray(day.size)[np.maximum(household, 0)]
    people = np.where(blank, size, p_num[p_code])
    if ((household < 0).any() or not site_ok[site_code].all() or np.isnan(minute).any()
            or (minute < 0).any() or (minute > day.hours * 60.0).any()
            or not p_ok[p_code].all() or (people < 1).any()):
        return None
    rows_per = np.bincount(household, minlength=len(day))
    if (blank & (rows_per[household] > 1)).any():  # a blank count beside other rows: counted row by row
        return None
    total = np.bincount(household, weights=people, minlength=len(day))
    if (total > np.asarray(day.size)).any():
        return None
    sampled = np.zeros(len(day), dtype=bool)
    early = minute <= at + 1e-9
    sampled[household[early]] = True
    return sampled, int((~early).sum())


def _capacity(scenario: Scenario, sites: Sequence[Site], previous: Previous, cutoff: int, close: set[str],
              changed: set[str], new: set[str]) -> IntArray:
    """People per (site, slot) of a re-plan: the previous plan's, except from the cutoff on: 0 at
    closed sites, what the tables give at sites with changed tables and at new sites."""
    fresh = slot_grid(scenario.window, scenario.capacity, scenario.planner, tuple(sites)).capacity
    cap = np.zeros_like(fresh)
    width = min(previous.capacity.shape[1], fresh.shape[1])
    cap[:, :width] = previous.capacity[:, :width]
    for i, sid in enumerate(s.id for s in sites):
        if sid in new or sid in changed:
            cap[i, cutoff:] = fresh[i, cutoff:]
        if sid in close:
            cap[i, cutoff:] = 0
    return cap


def replan(scenario: Scenario, registry: Registry, files: PlanFiles, sampled: BoolArray, at: float, *,
           lead_minutes: float = 30.0, close: Iterable[str] = (), tables: Mapping[str, int] | None = None,
           extra_sites: Sequence[Site] = (), keep_bookings: bool = True, make_room: bool = True,
           outcomes: Sequence[str] | npt.NDArray[Any] | None = None, progress: Progress | None = None) -> Plan:
    """Re-plan the rest of the day of plan ``files`` at minute ``at`` of its window (module docstring).

    ``sampled``: per registry household, checked in by ``at`` (`sampled_from_checkins`). Nobody
    moved gets a slot starting before ``at + lead_minutes``. ``close``: site ids that close from
    the cutoff; ``tables``: site id → tables from the cutoff; ``extra_sites``: sites that open.
    plan.json gets a ``replan`` block (parent, at, lead, counts, the re-planned part's bound and gap).
    ``keep_bookings=False``: plan every unsampled household afresh (a baseline; see `reassign`);
    ``make_room=False``: never move a kept booking to place someone else. ``outcomes``: the
    newest follow-up outcome per registry household ('' for none; see `reassign`).
    """
    check_window(files, scenario)
    end = scenario.window.n_slots * scenario.window.slot_minutes
    if not 0 <= at <= end or lead_minutes < 0:
        raise InputError([InputIssue(COMMAND_LINE, None, "at" if lead_minutes >= 0 else "lead_minutes",
                                     f"{at:g}" if lead_minutes >= 0 else f"{lead_minutes:g}",
                                     f"give a minute of the window, 0 – {end}, and a lead ≥ 0")])
    close = set(close)
    tables = dict(tables or {})
    sites = replan_sites(registry, files, close=close, tables=tables, extra=extra_sites)
    previous = previous_plan(files, replace(registry, sites=sites))
    grid_minutes = scenario.window.slot_minutes
    cutoff_minute = at + lead_minutes
    cutoff = min(int(math.ceil(cutoff_minute / grid_minutes - 1e-9)), scenario.window.n_slots)
    reg = replace(registry, sites=sites)
    capacity = _capacity(scenario, sites, previous, cutoff, close, set(tables), {s.id for s in extra_sites})
    plan, block = reassign(scenario, reg, previous, sampled=sampled, cutoff=cutoff, capacity=capacity,
                           keep_bookings=keep_bookings, make_room=make_room, outcomes=outcomes,
                           progress=progress)
    start = scenario.window.start_time
    plan.summary["replan"] = {
        "parent": previous.parent,
        "at": format_slot(start + dt.timedelta(minutes=at)),
        "lead_minutes": lead_minutes,
        "cutoff": format_slot(start + dt.timedelta(minutes=cutoff * grid_minutes)),
        "closed_sites": sorted(close), "tables": dict(sorted(tables.items())),
        "new_sites": [s.id for s in extra_sites],
        **block,
    }
    return plan


def plan_round(scenario: Scenario, registry: Registry, files: PlanFiles, progress: Progress | None = None) -> Plan:
    """Plan the next round from the previous round's plan ``files`` (module docstring): each
    household keeps its site and slot (slot index from the window start, e.g. 08:00 the day
    before → 08:00) where still feasible; what changed — zones sealed or lifted, sites opened or
    closed, tables — is applied. plan.json gets ``stability`` (share of households unchanged) and
    a ``round`` block (parent and counts)."""
    previous = previous_plan(files, registry)
    grid = slot_grid(scenario.window, scenario.capacity, scenario.planner, registry.sites)
    plan, block = reassign(scenario, registry, previous, sampled=np.zeros(len(registry.households), dtype=bool),
                           cutoff=0, capacity=grid.capacity, progress=progress)
    n = len(registry.households)
    stability = block["kept"] / n if n else 1.0
    plan.summary["stability"] = round(stability, 6)
    plan.summary["round"] = {"parent": previous.parent, "stability": round(stability, 6), **block}
    return plan


def changed_households(change: pd.Series | StrArray) -> BoolArray:
    """Households a re-plan has news for: a new slot, site or home visit (``moved``, ``home``, ``new``)."""
    values = pd.Series(change).astype(str)
    return values.isin(["moved", "home", "new"]).to_numpy()
