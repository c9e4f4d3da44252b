"""Door-to-door sampling: home-visit teams work through their households building by building."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sampler.model import IntArray
from sampler.params import HomeVisitParams

__all__ = ["home_capacity", "schedule_home_visits"]



def home_capacity(params: HomeVisitParams, slot_minutes: int, n_slots: int) -> IntArray:
    """Households all teams can visit in each slot (cumulative rounding, so no visit is lost)."""
    per_slot = params.teams * params.visits_per_team_hour * slot_minutes / 60.0
    cum = np.floor(per_slot * np.arange(n_slots + 1) + 1e-9).astype(np.int64)
    return np.diff(cum)


def schedule_home_visits(
    n_households: int, params: HomeVisitParams, slot_minutes: int, night: npt.NDArray[np.bool_],
    capacity: IntArray | None = None,
) -> tuple[IntArray, IntArray]:
    """Slot and team (1-based) of each household, in the order given; −1 where capacity ran out.

    Day slots are filled in time order first; night slots only when the day is full. Within a slot
    each team takes a consecutive run of households, so a team stays in one building. ``capacity``
    (visits per slot) replaces the teams' full `home_capacity`, e.g. the time a re-plan has left.
    """
    n_slots = len(night)
    cap = home_capacity(params, slot_minutes, n_slots) if capacity is None else np.asarray(capacity, dtype=np.int64)
    order = np.concatenate([np.flatnonzero(~night), np.flatnonzero(night)])
    cap_in_order = cap[order]
    ends = np.cumsum(cap_in_order)
    k = np.arange(n_households)
    pos = np.searchsorted(ends, k, side="right")
    slot = np.full(n_households, -1, dtype=np.int64)
    team = np.full(n_households, -1, dtype=np.int64)
    ok = pos < len(order)
    slot[ok] = order[pos[ok]]
    if ok.any():
        first = ends[pos[ok]] - cap_in_order[pos[ok]]
        within = k[ok] - first
        team[ok] = within * max(params.teams, 1) // cap_in_order[pos[ok]] + 1
    return slot, team
