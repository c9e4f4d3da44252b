"""Home-visit teams (上门采样): each works through its list in slot order, travelling between buildings.

Home visits are few (sealed zones, bedridden residents), so each team is an ordinary SimPy
process with one timeout per travel and per visit. Travel between buildings is the model the
planner routes with (`sampler.plan.homeroute.travel_minutes`): ``home_travel_min`` for leaving one
building and entering the next, plus the street distance at ``home_visits.speed_m_per_min``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sampler.model import FloatArray
from sampler.plan.homeroute import SAME_BUILDING_MIN  # walk to the next door in the same building

__all__ = ["SAME_BUILDING_MIN", "TeamRun", "door_minutes", "team_process"]



@dataclass(eq=False)
class TeamRun:
    """One team's list, in visiting order, and what happened.

    Attributes
    ----------
    label
        Team name for the trace.
    ids, slot_start, building, door
        Household id, slot start, building code and minutes at the door, per visit.
    travel_min
        Travel between two buildings when ``travel`` is not given.
    travel
        Minutes of travel before each visit from the previous one (the first is unused); empty:
        ``travel_min`` between buildings, 0.5 within one.
    shift, gap
        PPE shift length and hand-over break in minutes (gap 0: a relief team covers).
    start, end
        Filled in by `team_process`.
    """

    label: str
    ids: list[str]
    slot_start: list[float]
    building: list[int]
    door: list[float]
    travel_min: float
    shift: float = float("inf")
    gap: float = 0.0
    travel: list[float] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)


def door_minutes(n: int, visits_per_team_hour: float, travel_min: float,
                 rng: np.random.Generator) -> FloatArray:
    """Minutes at the door: gamma (shape 4) keeping the planned visit rate with travel included."""
    mean = max(60.0 / visits_per_team_hour - travel_min, 1.0)
    return rng.gamma(4.0, mean / 4.0, n)


def team_process(env: simpy.Environment, run: TeamRun,
                 log: list[tuple[float, str]] | None) -> Generator[simpy.Event, Any, None]:
    """Visit every household of the list: travel, wait for its slot if early, sample at the door.

    The team changes PPE after ``shift`` minutes: it finishes the visit in hand, then breaks for
    ``gap`` minutes before the next one; waiting at least ``gap`` for a slot counts as the break.
    """
    previous = -1
    shift_end = float("inf")
    for i, slot in enumerate(run.slot_start):
        if previous >= 0:
            if run.travel:
                yield env.timeout(run.travel[i])
            else:
                yield env.timeout(run.travel_min if run.building[i] != previous else SAME_BUILDING_MIN)
        if env.now < slot:
            idle = slot - env.now
            yield env.timeout(idle)
            if idle >= run.gap:  # a long wait for the slot doubles as the hand-over
                shift_end = env.now + run.shift
        if env.now >= shift_end and run.gap > 0:
            if log is not None:
                log.append((env.now, f"handover {run.label}"))
            yield env.timeout(run.gap)
            shift_end = env.now + run.shift
        if previous < 0 or env.now >= shift_end:
            shift_end = env.now + run.shift
        run.start.append(env.now)
        if log is not None:
            log.append((env.now, f"visit {run.ids[i]} by {run.label}"))
        yield env.timeout(run.door[i])
        run.end.append(env.now)
        if log is not None:
            log.append((env.now, f"end {run.ids[i]}"))
        previous = run.building[i]
