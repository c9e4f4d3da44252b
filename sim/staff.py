"""PPE shifts: each table's team works a shift, then the table closes for the hand-over.

Hand-overs are staggered over the tables of a site (table k's first shift is shortened by
k/c of a shift) so a site never closes all its tables at once. A relief team covers the
hand-over gap. The calendar is arithmetic, so the dispatch loop can ask it cheaply; the SimPy
`staff_process` walks through the hand-overs as events of the day.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim.params import SimParams

__all__ = ["ShiftCalendar", "shift_calendar", "staff_process"]


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

    def staffed_minutes(self, until: float) -> float:
        """Table-minutes staffed between ``open_at`` and ``until``."""
        total = 0.0
        for k in range(self.tables):
            closed = sum(min(b, until) - a for a, b in self.gaps(k, until))
            total += max(until - self.open_at, 0.0) - closed
        return total


def shift_calendar(open_at: float, tables: int, params: SimParams) -> ShiftCalendar:
    """The calendar of a site's tables under the scenario's shift rules."""
    shift = params.shift_hours * 60
    gap = 0.0 if params.relief_teams > 0 else params.handover_min
    first_end = tuple(open_at + shift * (tables - k) / tables for k in range(tables))
    return ShiftCalendar(open_at, first_end, shift, gap)


def staff_process(env: simpy.Environment, cal: ShiftCalendar, label: str,
                  keep_going: Callable[[float], bool],
                  log: list[tuple[float, str]] | None) -> Generator[simpy.Event, Any, int]:
    """Walk through the hand-overs of one site while ``keep_going(now)``; return their number."""
    if cal.gap <= 0:
        return 0
    heap = [(cal.first_end[k], k) for k in range(cal.tables)]
    heapq.heapify(heap)
    count = 0
    while heap:
        t, k = heapq.heappop(heap)
        if t > env.now:
            yield env.timeout(t - env.now)
        if not keep_going(env.now):
            break
        count += 1
        if log is not None:
            log.append((env.now, f"handover {label} table {k + 1}"))
        heapq.heappush(heap, (t + cal.shift + cal.gap, k))
    return count
