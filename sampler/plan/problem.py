"""The planning problem in arrays: slot grid, candidate arcs, costs, home-visit households, queue order.

Built once per plan and shared by the planner and the baselines, so all are scored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.io.text import text_series
from sampler.model import IntArray, Registry, needs_mask, needs_names
from sampler.params import Scenario
from sampler.plan.flow import COST_SCALE, GroupArcs
from sampler.plan.geo import Candidates, candidate_sites
from sampler.plan.slots import SlotGrid, slot_grid

__all__ = ["Problem", "build_problem"]



@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the assignment needs, as arrays.

    Attributes
    ----------
    grid, cand
        Slot grid with capacities; building → site candidate arcs.
    home, reason
        Per household: visited at home, and why (also the place unplaced reasons go).
    queue
        Households in call-down order: building, preference class, unit, room (natural order).
    arc_cost
        Integer cost per person of each candidate arc (walk, plus the over-walk penalty).
    slot_cost
        Integer cost per person of each (class, slot).
    unplaced_cost
        Integer cost per unplaced person.
    home_capacity
        Home visits all teams can still make per slot, when the caller fixed it (a re-plan: the
        teams' time left after the visits kept; `sampler.plan.replan`); None = the teams' full day,
        routed as ``home_visits.routing`` says.
    """

    scenario: Scenario
    registry: Registry
    grid: SlotGrid
    cand: Candidates
    home: npt.NDArray[np.bool_]
    reason: npt.NDArray[np.object_]
    queue: IntArray
    arc_cost: IntArray
    slot_cost: IntArray
    unplaced_cost: int
    home_capacity: IntArray | None = None

    @property
    def site_queue(self) -> IntArray:
        return self.queue[~self.home[self.queue]]

    @property
    def home_queue(self) -> IntArray:
        return self.queue[self.home[self.queue]]

    def arcs_of(self, building: int) -> range:
        """Candidate-arc positions of one building."""
        b = self.cand.building
        return range(int(np.searchsorted(b, building)), int(np.searchsorted(b, building, "right")))

    def candidate_arcs(self, building: IntArray) -> tuple[IntArray, IntArray]:
        """Every candidate arc of groups of households that each live in one building (``building``
        per group): (group, arc position) per pair, groups in order and a group's arcs by walk."""
        lo = np.searchsorted(self.cand.building, building, side="left")
        counts = np.searchsorted(self.cand.building, building, side="right") - lo
        group = np.repeat(np.arange(len(building)), counts)
        arc = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(int(counts.sum()))
        return group, arc

    def flow_arcs(self, building: IntArray, klass: IntArray, supply: IntArray) -> GroupArcs:
        """The flow network of supply groups, each of one building and preference class."""
        group, arc = self.candidate_arcs(building)
        return GroupArcs(
            supply=supply, group_class=klass, arc_group=group, arc_site=self.cand.site[arc],
            arc_cost=self.arc_cost[arc], slot_cost=self.slot_cost, capacity=self.grid.capacity,
            unplaced_cost=self.unplaced_cost,
        )

    def arc_index(self, building: IntArray, site: IntArray) -> IntArray:
        """Candidate-arc position of each (building, site) pair; the pairs must be candidates."""
        keys, pos = _arc_lookup(self.cand, max(len(self.registry.sites), 1))
        return pos[np.searchsorted(keys, building * max(len(self.registry.sites), 1) + site)]



def _natural_rank(values: npt.NDArray[np.object_] | Any) -> IntArray:
    """Rank of text values in natural order (numbers numerically first, then text); ties share a rank.

    Only the distinct values are ranked (a city has a few thousand room numbers, not a million).
    """
    if isinstance(values, np.ndarray):
        text_column = pd.Series(values, dtype=object).astype(str)
    else:  # an Arrow string array (HouseholdTable.arrow): the same text column without the round trip
        text_column = text_series(values)
    codes, uniques = pd.factorize(text_column, sort=False)
    text = np.asarray(uniques, dtype=str)
    num = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    is_num = ~np.isnan(num)
    order = np.lexsort((text, np.where(is_num, num, 0.0), ~is_num))
    rank = np.empty(len(text), dtype=np.int64)
    rank[order] = np.arange(len(text))
    return rank[codes]


def _arc_lookup(cand: Candidates, n_sites: int) -> tuple[IntArray, IntArray]:
    """Sorted (building × n_sites + site) keys of the candidate arcs and their positions."""
    keys = cand.building * n_sites + cand.site
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def _home_mask(
    scenario: Scenario, registry: Registry, cand: Candidates
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
    """Which households are visited at home, and why."""
    hh = registry.households
    reason = cand.home_reason[hh.building].astype(object)
    home_needs = needs_mask(list(scenario.home_visits.needs))
    by_need = (hh.needs & home_needs) != 0
    need_only = by_need & (reason == "")
    for mask in np.unique(hh.needs[need_only]):
        names = "/".join(needs_names(int(mask & home_needs)))
        reason[need_only & (hh.needs == mask)] = f"special needs ({names}): cannot travel"
    return reason != "", reason


def build_problem(scenario: Scenario, registry: Registry, capacity: IntArray | None = None,
                  home_capacity: IntArray | None = None, candidates: Candidates | None = None,
                  at_home: npt.NDArray[np.bool_] | None = None) -> Problem:
    """Grid, candidates, costs, home-visit households and the queue order.

    ``capacity`` (sites × slots) replaces the people per site and slot the sites' tables give, and
    ``home_capacity`` (one count per slot) the home visits the teams can make: a re-plan passes
    what is left after the bookings it keeps, 0 in slots before its cutoff (`sampler.plan.replan`).
    ``candidates``: the candidate sites of the registry's buildings when already found for the
    same buildings, sites and scenario (a re-plan's second problem over a part of the households).
    ``at_home``: households a grid worker found at home needing a visit (a re-plan's follow-ups):
    visited at home whatever their zone.
    """
    hh, pp = registry.households, scenario.planner
    grid = slot_grid(scenario.window, scenario.capacity, pp, registry.sites)
    if capacity is not None:
        capacity = np.asarray(capacity, dtype=np.int64)
        if capacity.shape != grid.capacity.shape or (capacity < 0).any():
            raise ValueError(f"capacity must be {grid.capacity.shape} people ≥ 0 (sites × slots), got {capacity.shape}")
        grid = replace(grid, capacity=capacity)
    if home_capacity is not None:
        home_capacity = np.asarray(home_capacity, dtype=np.int64)
        if home_capacity.shape != (grid.n,) or (home_capacity < 0).any():
            raise ValueError(f"home_capacity must be {grid.n} visits ≥ 0 (one per slot), got {home_capacity.shape}")
    cand = candidates if candidates is not None else candidate_sites(registry.buildings, registry.sites, scenario.walk, pp.candidate_sites)
    home, reason = _home_mask(scenario, registry, cand)
    if at_home is not None and at_home.any():
        reason = reason.copy()
        reason[at_home & ~home] = "follow-up: at home, needs a visit (在家，需上门采样)"
        home = home | at_home
    room, unit = hh.arrow("room"), hh.arrow("unit")
    queue = np.lexsort((_natural_rank(hh.room if room is None else room),
                        _natural_rank(hh.unit if unit is None else unit), hh.preferred, hh.building))
    over = cand.walk > scenario.walk.max_minutes
    arc_cost = np.round(cand.walk * COST_SCALE).astype(np.int64) + np.round(
        over * pp.overmax_penalty * COST_SCALE
    ).astype(np.int64)
    slot_cost = np.round(grid.penalties(pp) * COST_SCALE).astype(np.int64)
    return Problem(
        scenario=scenario, registry=registry, grid=grid, cand=cand, home=home, reason=reason, queue=queue,
        arc_cost=arc_cost, slot_cost=slot_cost, unplaced_cost=round(pp.unplaced_penalty * COST_SCALE),
        home_capacity=home_capacity,
    )
