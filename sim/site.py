"""A sampling site: tables as servers, households served first come first served.

One SimPy process per site wakes every ``slot_tick_min`` minutes and dispatches the households
that arrived since, each to the table that can start it earliest (given its staffing calendar),
in a tight loop over pre-drawn arrays. This keeps SimPy as the clock of the day without paying
for a SimPy process per person. With a roster a household may find no staffed table for the rest
of the day: it is left unserved (start, end NaN, table -1).
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from sim.staff import Calendar, IntervalCalendar, ShiftCalendar

__all__ = ["SiteRun", "dispatch", "site_process"]


@dataclass(eq=False)
class SiteRun:
    """The state of one site during a replication (lists, for fast scalar access).

    Attributes
    ----------
    label
        Site id, for the trace.
    cal
        Staffing calendar of its tables (PPE shifts or a roster).
    arrival, service
        Arrival time and service minutes of its households, sorted by arrival.
    ids
        Household ids (only needed for the trace).
    start, end, table
        Filled in by `dispatch` (table is 0-based; NaN, NaN, -1 for a household no staffed table
        could take).
    """

    label: str
    cal: Calendar
    arrival: list[float]
    service: list[float]
    ids: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    table: list[int] = field(default_factory=list)
    dispatched: int = 0
    last_end: float = 0.0
    free: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.arrival)
        self.start, self.end, self.table = [0.0] * n, [0.0] * n, [0] * n
        self.free = [self.cal.open_at] * self.cal.tables

    @property
    def finished(self) -> bool:
        return self.dispatched >= len(self.arrival)


def _dispatch_always_staffed(run: SiteRun, stop: int) -> None:
    """Tables never close: the earliest-free table from a heap."""
    heap = [(f, k) for k, f in enumerate(run.free)]
    heapq.heapify(heap)
    arrival, service, start, end, table = run.arrival, run.service, run.start, run.end, run.table
    for h in range(run.dispatched, stop):
        f, k = heap[0]
        a = arrival[h]
        s = a if a > f else f
        e = s + service[h]
        start[h], end[h], table[h] = s, e, k
        heapq.heapreplace(heap, (e, k))
    for f, k in heap:
        run.free[k] = f


def _dispatch_with_gaps(run: SiteRun, stop: int) -> None:
    """Tables close for hand-overs: scan the tables for the earliest staffed start."""
    cal = run.cal
    assert isinstance(cal, ShiftCalendar)
    period, gap, first_end = cal.shift + cal.gap, cal.gap, cal.first_end
    free = run.free
    arrival, service, start, end, table = run.arrival, run.service, run.start, run.end, run.table
    tables = range(cal.tables)
    for h in range(run.dispatched, stop):
        a = arrival[h]
        best, best_k = float("inf"), 0
        for k in tables:
            t = free[k] if free[k] > a else a
            x = t - first_end[k]
            if x >= 0:
                phase = x % period
                if phase < gap:
                    t += gap - phase
            if t < best:
                best, best_k = t, k
        e = best + service[h]
        start[h], end[h], table[h] = best, e, best_k
        free[best_k] = e


def _dispatch_intervals(run: SiteRun, stop: int) -> None:
    """Rostered tables: the earliest start any table can give within one of its staffed stretches."""
    next_start = run.cal.next_start
    free = run.free
    arrival, service, start, end, table = run.arrival, run.service, run.start, run.end, run.table
    tables = range(run.cal.tables)
    inf = math.inf
    for h in range(run.dispatched, stop):
        a, d = arrival[h], service[h]
        best, best_k = inf, -1
        for k in tables:
            t = next_start(k, free[k] if free[k] > a else a, d)
            if t < best:
                best, best_k = t, k
        if best_k < 0:
            start[h], end[h], table[h] = math.nan, math.nan, -1
            continue
        e = best + d
        start[h], end[h], table[h] = best, e, best_k
        free[best_k] = e


def dispatch(run: SiteRun, stop: int, log: list[tuple[float, str]] | None = None) -> None:
    """Serve households ``run.dispatched`` .. ``stop - 1`` (all have arrived by now)."""
    lo = run.dispatched
    cal = run.cal
    if isinstance(cal, IntervalCalendar):
        _dispatch_intervals(run, stop)
        served = [e for e in run.end[lo:stop] if not math.isnan(e)]
        if served:
            run.last_end = max(run.last_end, *served)
    else:
        assert isinstance(cal, ShiftCalendar)
        if cal.gap > 0:
            _dispatch_with_gaps(run, stop)
        else:
            _dispatch_always_staffed(run, stop)
        if stop > lo:
            run.last_end = max(run.last_end, *run.end[lo:stop])
    run.dispatched = stop
    if log is not None:
        for h in range(lo, stop):
            hid = run.ids[h]
            log.append((run.arrival[h], f"arrive {hid}"))
            if run.table[h] < 0:
                log.append((run.arrival[h], f"unserved {hid} at {run.label}: no staffed table"))
                continue
            log.append((run.start[h], f"start {hid} at {run.label} table {run.table[h] + 1}"))
            log.append((run.end[h], f"end {hid}"))


def site_process(env: simpy.Environment, run: SiteRun, tick: float,
                 log: list[tuple[float, str]] | None) -> Generator[simpy.Event, Any, None]:
    """Wake every ``tick`` minutes (skipping empty stretches) and dispatch who has arrived."""
    arrival = run.arrival
    n = len(arrival)
    h = 0
    if n and arrival[0] > env.now:
        yield env.timeout(arrival[0] - env.now)
    while h < n:
        horizon = env.now + tick
        stop = bisect.bisect_left(arrival, horizon, h)
        dispatch(run, stop, log)
        h = stop
        if h < n:
            skip = max(tick, (arrival[h] - env.now) // tick * tick)
            yield env.timeout(skip)
