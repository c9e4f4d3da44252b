"""The slot grid of the window: times, night hours, periods, and each site's capacity per slot."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sampler.io.timefmt import parse_clock, slot_labels
from sampler.model import PERIODS, Site
from sampler.params import CapacityParams, PlannerParams, WindowParams

__all__ = ["SlotGrid", "slot_grid"]


def _in_range(minute: npt.NDArray[np.int64], start: int, end: int) -> npt.NDArray[np.bool_]:
    """Clock minutes inside [start, end), where the range may wrap past midnight."""
    if start <= end:
        return (minute >= start) & (minute < end)
    return (minute >= start) | (minute < end)


@dataclass(frozen=True, eq=False)
class SlotGrid:
    """Slots of the window.

    Attributes
    ----------
    start
        Window start.
    minutes
        Slot length in minutes.
    clock
        Clock minute (0–1439) at which each slot starts.
    night
        Whether each slot starts in the night hours.
    period
        Code of the period (index into model.PERIODS) each slot falls in; 0 if none.
    capacity
        People per (site, slot): tables × rate × slot length × utilisation, 0 when closed.
    """

    start: dt.datetime
    minutes: int
    clock: npt.NDArray[np.int64]
    night: npt.NDArray[np.bool_]
    period: npt.NDArray[np.int64]
    capacity: npt.NDArray[np.int64]

    @property
    def n(self) -> int:
        return len(self.clock)

    def slot_start(self, t: int) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.minutes * int(t))

    def labels(self) -> list[str]:
        """'YYYY-MM-DD HH:MM' of every slot start, plus the window end as the last item."""
        return slot_labels(self.start, self.minutes, self.n + 1)

    def penalties(self, planner: PlannerParams) -> npt.NDArray[np.float64]:
        """Cost per person of each slot for each preference class: shape (len(PERIODS), n)."""
        t = np.arange(self.n, dtype=np.float64)
        base = planner.lateness_per_slot * t + planner.night_penalty * self.night
        out = np.tile(base, (len(PERIODS), 1))
        for c in range(1, len(PERIODS)):
            out[c] += planner.preference_penalty * (self.period != c)
        return out


def slot_grid(
    window: WindowParams, capacity: CapacityParams, planner: PlannerParams, sites: tuple[Site, ...]
) -> SlotGrid:
    """Build the slot grid and the capacity of every site in every slot."""
    n = window.n_slots
    start = window.start_time
    offset = start.hour * 60 + start.minute
    clock = (offset + window.slot_minutes * np.arange(n, dtype=np.int64)) % 1440
    night_from, night_to = (parse_clock(x) for x in window.night)
    night = _in_range(clock, night_from, night_to) if night_from != night_to else np.zeros(n, bool)
    period = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(PERIODS):
        if name and name in planner.periods:
            a, b = (parse_clock(x) for x in planner.periods[name])
            period[(period == 0) & _in_range(clock, a, b)] = code
    cap = np.zeros((len(sites), n), dtype=np.int64)
    last = (clock + window.slot_minutes - 1) % 1440
    open_by_hours: dict[tuple[int, int], npt.NDArray[np.bool_]] = {}  # sites share a few opening hours
    for i, s in enumerate(sites):
        per_slot = int(np.floor(s.tables * s.rate * window.slot_minutes / 60 * capacity.utilisation + 1e-9))
        is_open = open_by_hours.get((s.open_minute, s.close_minute))
        if is_open is None:
            is_open = open_by_hours[s.open_minute, s.close_minute] = np.array(
                [s.is_open(int(a)) and s.is_open(int(b)) for a, b in zip(clock, last, strict=True)], dtype=bool)
        cap[i, is_open] = per_slot
    return SlotGrid(start=start, minutes=window.slot_minutes, clock=clock, night=night, period=period, capacity=cap)
