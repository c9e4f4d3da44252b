"""When each table of a site is staffed: the PPE shift calendar, or the intervals of a roster.

`ShiftCalendar` (the default): each table's team works a shift, then the table closes for the
hand-over. Hand-overs are staggered over the tables of a site (table k's first shift is
shortened by k/c of a shift) so a site never closes all its tables at once. A relief team
covers the hand-over gap. The calendar is arithmetic, so the dispatch loop can ask it cheaply.

`IntervalCalendar` (``sampler simulate --roster``): each table is staffed exactly in the
intervals a roster puts a sampler on it, found by bisection; back-to-back stints are a
hand-over without a gap (as rostered), anything else is a closed table.

Both answer the questions of the `Calendar` protocol; the SimPy `staff_process` walks through
their `events` (hand-overs, and for a roster the opening and closing of tables) as events of
the day.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import simpy

from sim.params import SimParams

__all__ = ["Calendar", "IntervalCalendar", "ShiftCalendar", "interval_calendar", "shift_calendar", "staff_process"]

Event = tuple[float, int, str]  # (minute, table, "handover" | "open" | "close")


class Calendar(Protocol):
    """What a site process needs to know about when its tables are staffed."""

    @property
    def open_at(self) -> float: ...

    @property
    def tables(self) -> int: ...

    def next_staffed(self, k: int, t: float) -> float:
        """Earliest time at or after ``t`` at which table ``k`` is staffed (inf: never again)."""
        ...

    def next_start(self, k: int, t: float, duration: float) -> float:
        """Earliest time at or after ``t`` at which table ``k`` may start a ``duration``-minute service."""
        ...

    def gaps(self, k: int, until: float) -> list[tuple[float, float]]:
        """Stretches after ``open_at`` in which table ``k`` is closed, starting before ``until``."""
        ...

    def staffed_minutes(self, until: float) -> float:
        """Table-minutes staffed up to ``until``."""
        ...

    def events(self) -> Iterator[Event]:
        """Staffing changes in time order (ties by table); may be endless."""
        ...


@dataclass(frozen=True)
class ShiftCalendar:
    """When each table of one site is staffed.

    Attributes
    ----------
    open_at
        Minute the first shift starts.
    first_end
        End of the first shift of each table.
    shift, gap
        Shift length and hand-over gap in minutes (gap 0: always staffed from ``open_at``).
    """

    open_at: float
    first_end: tuple[float, ...]
    shift: float
    gap: float

    @property
    def tables(self) -> int:
        return len(self.first_end)

    def next_staffed(self, k: int, t: float) -> float:
        """Earliest time at or after ``t`` at which table ``k`` is staffed."""
        t = max(t, self.open_at)
        if self.gap <= 0:
            return t
        x = t - self.first_end[k]
        if x < 0:
            return t
        phase = x % (self.shift + self.gap)
        return t + (self.gap - phase) if phase < self.gap else t

    def gaps(self, k: int, until: float) -> list[tuple[float, float]]:
        """Hand-over gaps of table ``k`` that start before ``until``."""
        out: list[tuple[float, float]] = []
        if self.gap <= 0:
            return out
        t = self.first_end[k]
        while t < until:
            out.append((t, t + self.gap))
            t += self.shift + self.gap
        return out

    def next_start(self, k: int, t: float, duration: float) -> float:
        """A service may start whenever the table is staffed: hand-overs do not interrupt it."""
        return self.next_staffed(k, t)

    def staffed_minutes(self, until: float) -> float:
        """Table-minutes staffed between ``open_at`` and ``until``."""
        total = 0.0
        for k in range(self.tables):
            closed = sum(min(b, until) - a for a, b in self.gaps(k, until))
            total += max(until - self.open_at, 0.0) - closed
        return total

    def events(self) -> Iterator[Event]:
        """The hand-overs of every table, endlessly (none when a relief team covers them)."""
        if self.gap <= 0:
            return
        heap = [(self.first_end[k], k) for k in range(self.tables)]
        heapq.heapify(heap)
        while heap:
            t, k = heapq.heappop(heap)
            yield t, k, "handover"
            heapq.heappush(heap, (t + self.shift + self.gap, k))


def shift_calendar(open_at: float, tables: int, params: SimParams) -> ShiftCalendar:
    """The calendar of a site's tables under the scenario's shift rules."""
    shift = params.shift_hours * 60
    gap = 0.0 if params.relief_teams > 0 else params.handover_min
    first_end = tuple(open_at + shift * (tables - k) / tables for k in range(tables))
    return ShiftCalendar(open_at, first_end, shift, gap)


@dataclass(frozen=True)
class IntervalCalendar:
    """Tables staffed in given intervals (from a roster); closed otherwise.

    Attributes
    ----------
    starts, ends
        Per table, the sorted starts and ends of its staffed stretches (touching stints merged).
    handover_at
        Per table, the minutes where one stint ends and the next begins (a crew change).
    open_at
        First minute any table is staffed (inf when none ever is).
    """

    starts: tuple[tuple[float, ...], ...]
    ends: tuple[tuple[float, ...], ...]
    handover_at: tuple[tuple[float, ...], ...]
    open_at: float

    @property
    def tables(self) -> int:
        return len(self.starts)

    def next_staffed(self, k: int, t: float) -> float:
        """Earliest time at or after ``t`` at which table ``k`` is staffed (inf: never again)."""
        ends = self.ends[k]
        i = bisect.bisect_right(ends, t)
        if i == len(ends):
            return float("inf")
        s = self.starts[k][i]
        return s if s > t else t

    def next_start(self, k: int, t: float, duration: float) -> float:
        """Earliest start at or after ``t`` of a service that ends before the crew leaves.

        A crew does not start a household it cannot finish within its staffed stretch; across a
        rostered hand-over (back-to-back stints) the stretch continues.
        """
        starts, ends = self.starts[k], self.ends[k]
        i = bisect.bisect_right(ends, t)
        while i < len(ends):
            s = starts[i] if starts[i] > t else t
            if s + duration <= ends[i]:
                return s
            i += 1
        return float("inf")

    def gaps(self, k: int, until: float) -> list[tuple[float, float]]:
        """Closed stretches of table ``k`` after ``open_at`` that start before ``until``."""
        out: list[tuple[float, float]] = []
        t = self.open_at
        for s, e in zip(self.starts[k], self.ends[k], strict=True):
            if t >= until:
                break
            if s > t:
                out.append((t, min(s, until)))
            t = max(t, e)
        if t < until:
            out.append((t, until))
        return out

    def staffed_minutes(self, until: float) -> float:
        """Table-minutes staffed before ``until``."""
        return sum(max(min(e, until) - s, 0.0)
                   for starts, ends in zip(self.starts, self.ends, strict=True)
                   for s, e in zip(starts, ends, strict=True))

    def events(self) -> Iterator[Event]:
        """Openings, rostered hand-overs and closings of every table, in time order."""
        out: list[Event] = []
        for k in range(self.tables):
            out.extend((s, k, "open") for s in self.starts[k])
            out.extend((e, k, "close") for e in self.ends[k])
            out.extend((h, k, "handover") for h in self.handover_at[k])
        rank = {"close": 0, "handover": 1, "open": 2}
        yield from sorted(out, key=lambda e: (e[0], rank[e[2]], e[1]))


def interval_calendar(stints: Sequence[Sequence[tuple[float, float]]]) -> IntervalCalendar:
    """The calendar of a site whose table ``k`` is staffed during ``stints[k]`` ((start, end) minutes).

    Overlapping or touching stints of one table are merged into one staffed stretch; a stint
    that starts where another ends is a hand-over.
    """
    starts: list[tuple[float, ...]] = []
    ends: list[tuple[float, ...]] = []
    handovers: list[tuple[float, ...]] = []
    for table in stints:
        s_k: list[float] = []
        e_k: list[float] = []
        h_k: list[float] = []
        for a, b in sorted((float(a), float(b)) for a, b in table if b > a):
            if e_k and a <= e_k[-1]:
                if a == e_k[-1]:
                    h_k.append(a)
                e_k[-1] = max(e_k[-1], b)
            else:
                s_k.append(a)
                e_k.append(b)
        starts.append(tuple(s_k))
        ends.append(tuple(e_k))
        handovers.append(tuple(h_k))
    first = min((s[0] for s in starts if s), default=float("inf"))
    return IntervalCalendar(tuple(starts), tuple(ends), tuple(handovers), first)


def staff_process(env: simpy.Environment, cal: Calendar, label: str,
                  keep_going: Callable[[float], bool],
                  log: list[tuple[float, str]] | None) -> Generator[simpy.Event, Any, int]:
    """Walk through the staffing changes of one site while ``keep_going(now)``; return the hand-overs."""
    count = 0
    for t, k, kind in cal.events():
        if t > env.now:
            yield env.timeout(t - env.now)
        if not keep_going(env.now):
            break
        count += kind == "handover"
        if log is not None:
            log.append((env.now, f"{kind} {label} table {k + 1}"))
    return count
