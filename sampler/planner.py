"""Plan a whole area: every household to a (site, slot) or a home visit, or listed as unplaced.

    plan = make_plan(scenario, registry)
    plan.write("out/plan")

Steps: candidate sites per building → aggregated min-cost flow (exact LP bound) → whole households
cut from the flow into sites and consecutive slots → CP-SAT/greedy repair of leftovers → home
visits → checks. Everything is deterministic for the same inputs and seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.flow import COST_SCALE, GroupArcs, solve_flow
from sampler.geo import Candidates, candidate_sites
from sampler.homevisit import schedule_home_visits
from sampler.model import PERIODS, Registry, needs_mask, needs_names
from sampler.packing import assign_slots, split_groups
from sampler.params import Scenario
from sampler.repair import RepairProblem, repair
from sampler.slots import SlotGrid, slot_grid

__all__ = ["MODE_HOME", "MODE_SITE", "MODE_UNPLACED", "Plan", "Progress", "make_plan"]

MODE_UNPLACED, MODE_SITE, MODE_HOME = 0, 1, 2
Int = npt.NDArray[np.int64]
Progress = Callable[[str, float], None]


def _quiet(stage: str, done: float) -> None:
    """Progress callback that does nothing."""


@dataclass(frozen=True, eq=False)
class Plan:
    """A plan: per-household arrays (registry order) plus the grid, candidates and summary.

    Attributes
    ----------
    mode
        MODE_SITE, MODE_HOME or MODE_UNPLACED per household.
    site, slot, team
        Site index, slot index and home-visit team (1-based); −1 where not applicable.
    walk
        Walking minutes to the assigned site (0 for home visits and unplaced).
    reason
        Why a household is visited at home or left unplaced ('' otherwise).
    summary
        The content of plan.json.
    """

    scenario: Scenario
    registry: Registry
    grid: SlotGrid
    mode: Int
    site: Int
    slot: Int
    team: Int
    walk: npt.NDArray[np.float64]
    reason: npt.NDArray[np.object_]
    summary: dict[str, Any] = field(default_factory=dict)

    def is_feasible(self) -> bool:
        """No capacity violation and every household placed."""
        return self.summary["violations"] == 0 and self.summary["unplaced_households"] == 0

    def objective(self) -> float:
        return float(self.summary["objective"])

    def load(self) -> Int:
        """People per (site, slot)."""
        load = np.zeros_like(self.grid.capacity)
        at = self.mode == MODE_SITE
        np.add.at(load, (self.site[at], self.slot[at]), self.registry.households.size[at])
        return load

    def frames(self) -> dict[str, pd.DataFrame]:
        """The plan-directory tables (docs/formats.md), keyed by file stem."""
        from sampler.output import plan_frames

        return plan_frames(self)

    def write(self, directory: str | Path, xlsx: bool = True) -> None:
        """Write the plan directory atomically (a temporary directory renamed at the end)."""
        from sampler.output import write_plan

        write_plan(self, Path(directory), xlsx=xlsx)


def _natural_rank(values: npt.NDArray[np.object_]) -> Int:
    """Rank of text values in natural order: numbers numerically first, then the rest as text."""
    series = pd.Series(values, dtype=object).astype(str)
    num = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    is_num = ~np.isnan(num)
    _, text_rank = np.unique(series.to_numpy(dtype=str), return_inverse=True)
    return np.lexsort((text_rank, np.where(is_num, num, 0.0), ~is_num)).argsort().astype(np.int64)


def _arc_lookup(cand: Candidates, n_sites: int) -> tuple[Int, Int]:
    """Sorted (building × n_sites + site) keys of the candidate arcs and their positions."""
    keys = cand.building * n_sites + cand.site
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def _home_mask(scenario: Scenario, registry: Registry, cand: Candidates) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
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


def make_plan(scenario: Scenario, registry: Registry, progress: Progress | None = None) -> Plan:
    """Plan the area; see the module docstring. Never raises for capacity shortfalls: it reports them."""
    progress = progress or _quiet
    clock0 = time.perf_counter()
    timing: dict[str, float] = {}
    hh, sites, pp = registry.households, registry.sites, scenario.planner
    n, n_sites = len(hh), len(sites)
    grid = slot_grid(scenario.window, scenario.capacity, pp, sites)
    cand = candidate_sites(registry.buildings, sites, scenario.walk, pp.candidate_sites)
    progress("candidates", 0.1)

    home, reason = _home_mask(scenario, registry, cand)
    mode = np.full(n, MODE_UNPLACED, dtype=np.int64)
    site = np.full(n, -1, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    team = np.full(n, -1, dtype=np.int64)

    # Queue order: building, preference class, unit, room.
    unit_rank, room_rank = _natural_rank(hh.unit), _natural_rank(hh.room)
    queue = np.lexsort((room_rank, unit_rank, hh.preferred, hh.building))
    site_q = queue[~home[queue]]
    home_q = queue[home[queue]]

    # Groups (building, class) of site households and their candidate arcs.
    n_cls = len(PERIODS)
    gkey = hh.building[site_q] * n_cls + hh.preferred[site_q]
    gvals, ginv = np.unique(gkey, return_inverse=True)
    g_building, g_class = np.divmod(gvals, n_cls)
    supply = np.bincount(ginv, weights=hh.size[site_q], minlength=len(gvals)).astype(np.int64)
    lo = np.searchsorted(cand.building, g_building, side="left")
    hi = np.searchsorted(cand.building, g_building, side="right")
    counts = hi - lo
    arc_group = np.repeat(np.arange(len(gvals)), counts)
    arc_idx = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
    over = cand.walk > scenario.walk.max_minutes
    arc_unit_cost = np.round(cand.walk * COST_SCALE).astype(np.int64) + np.round(
        over * pp.overmax_penalty * COST_SCALE
    ).astype(np.int64)
    slot_cost = np.round(grid.penalties(pp) * COST_SCALE).astype(np.int64)
    unplaced_unit = round(pp.unplaced_penalty * COST_SCALE)
    arcs = GroupArcs(
        supply=supply, group_class=g_class, arc_group=arc_group, arc_site=cand.site[arc_idx],
        arc_cost=arc_unit_cost[arc_idx], slot_cost=slot_cost, capacity=grid.capacity,
        unplaced_cost=unplaced_unit,
    )
    timing["prepare_seconds"] = time.perf_counter() - clock0
    progress("flow", 0.2)
    t1 = time.perf_counter()
    flow = solve_flow(arcs)
    timing["flow_seconds"] = time.perf_counter() - t1
    progress("packing", 0.6)

    t2 = time.perf_counter()
    sizes_q = hh.size[site_q].astype(np.int64)
    site_of = split_groups(sizes_q, ginv, arcs, flow)
    class_order = [*range(1, n_cls), 0]
    slot_of, load = assign_slots(sizes_q, site_of, hh.preferred[site_q], flow.quota, grid.capacity, class_order)
    site[site_q], slot[site_q] = site_of, slot_of
    placed = slot >= 0
    mode[placed] = MODE_SITE
    site[~placed] = -1

    # Repair: households the rounding left over (their site had no room) get another option.
    keys_sorted, key_pos = _arc_lookup(cand, max(n_sites, 1))
    leftover = site_q[(site_of >= 0) & (slot_of < 0)]
    residual = grid.capacity - load
    repair_method = "none"
    if len(leftover):
        opt_h, opt_s, opt_t, opt_c = [], [], [], []
        for i, h in enumerate(leftover):
            b = hh.building[h]
            for k in range(int(np.searchsorted(cand.building, b)), int(np.searchsorted(cand.building, b, "right"))):
                s_k = cand.site[k]
                free = np.flatnonzero(residual[s_k] >= hh.size[h])
                opt_h.extend([i] * len(free))
                opt_s.extend([s_k] * len(free))
                opt_t.extend(free.tolist())
                opt_c.extend(((arc_unit_cost[k] + slot_cost[hh.preferred[h], free]) * hh.size[h]).tolist())
        problem = RepairProblem(
            size=hh.size[leftover].astype(np.int64), opt_household=np.asarray(opt_h, dtype=np.int64),
            opt_site=np.asarray(opt_s, dtype=np.int64), opt_slot=np.asarray(opt_t, dtype=np.int64),
            opt_cost=np.asarray(opt_c, dtype=np.int64), residual=residual,
            unplaced_cost=hh.size[leftover].astype(np.int64) * unplaced_unit,
        )
        choice, repair_method = repair(problem, pp.repair_limit, pp.seed)
        ok = choice >= 0
        site[leftover[ok]] = problem.opt_site[choice[ok]]
        slot[leftover[ok]] = problem.opt_slot[choice[ok]]
        mode[leftover[ok]] = MODE_SITE
    timing["packing_seconds"] = time.perf_counter() - t2
    progress("home visits", 0.8)

    # Home visits, door to door in queue order.
    h_slot, h_team = schedule_home_visits(len(home_q), scenario.home_visits, grid.minutes, grid.night)
    slot[home_q], team[home_q] = h_slot, h_team
    mode[home_q[h_slot >= 0]] = MODE_HOME
    reason[home_q[h_slot < 0]] = (
        f"home-visit capacity: {scenario.home_visits.teams} teams × "
        f"{scenario.home_visits.visits_per_team_hour:g} visits/h cannot reach every household in the window; add teams"
    )

    # Walking minutes of placed households, reasons of unplaced ones.
    walk = np.zeros(n, dtype=np.float64)
    at = np.flatnonzero(mode == MODE_SITE)
    arc_of = key_pos[np.searchsorted(keys_sorted, hh.building[at] * max(n_sites, 1) + site[at])]
    walk[at] = cand.walk[arc_of]
    _unplaced_reasons(reason, mode, home, hh.building, cand, sites, scenario.walk.max_minutes)

    summary = _summarise(scenario, registry, grid, mode, site, slot, walk, home, arc_unit_cost, arc_of,
                         slot_cost, unplaced_unit, flow.cost, repair_method, timing)
    timing["solve_seconds"] = time.perf_counter() - clock0
    summary["timing"] = {k: round(v, 3) for k, v in sorted(timing.items())}
    progress("done", 1.0)
    return Plan(scenario, registry, grid, mode, site, slot, team, walk, reason, summary)


def _unplaced_reasons(
    reason: npt.NDArray[np.object_], mode: Int, home: npt.NDArray[np.bool_], building: Int,
    cand: Candidates, sites: tuple[Any, ...], max_walk: float,
) -> None:
    """Say, per unplaced site household, which sites within reach were full."""
    todo = np.flatnonzero((mode == MODE_UNPLACED) & ~home)
    for b in np.unique(building[todo]):
        lo, hi = np.searchsorted(cand.building, b), np.searchsorted(cand.building, b, "right")
        if hi == lo:
            text = "no sampling site can serve this building; add a site or list it in a site's serves"
        else:
            near = [f"{sites[s].name} ({sites[s].id}, {w:g} min)" for s, w in zip(cand.site[lo:hi], cand.walk[lo:hi], strict=True)]
            within = [x for x, w in zip(near, cand.walk[lo:hi], strict=True) if w <= max_walk] or near[:1]
            text = "no capacity left: every slot full at " + "; ".join(within[:4]) + "; add tables or a site"
        reason[todo[building[todo] == b]] = text


def _summarise(
    scenario: Scenario, registry: Registry, grid: SlotGrid, mode: Int, site: Int, slot: Int,
    walk: npt.NDArray[np.float64], home: npt.NDArray[np.bool_], arc_unit_cost: Int, arc_of: Int,
    slot_cost: Int, unplaced_unit: int, flow_cost: int, repair_method: str, timing: dict[str, float],
) -> dict[str, Any]:
    """Objective, bound, gap and the invariant checks, from the final arrays."""
    hh = registry.households
    size = hh.size.astype(np.int64)
    at = np.flatnonzero(mode == MODE_SITE)
    walk_cost = int((arc_unit_cost[arc_of] * size[at]).sum())
    time_cost = int((slot_cost[hh.preferred[at], slot[at]] * size[at]).sum())
    unplaced = mode == MODE_UNPLACED
    unplaced_cost = int(size[unplaced].sum()) * unplaced_unit
    # Cohesion: (site, slot) pairs per building beyond the fewest its people could need.
    cells = np.unique(hh.building[at] * (grid.capacity.size) + site[at] * grid.n + slot[at])
    spread = np.bincount(cells // grid.capacity.size, minlength=len(registry.buildings))
    b_people = np.bincount(hh.building[at], weights=size[at], minlength=len(registry.buildings))
    cmax = max(int(grid.capacity.max(initial=0)), 1)
    extra = np.maximum(spread - np.ceil(b_people / cmax), 0)
    cohesion_cost = int(round(float(extra.sum()) * scenario.planner.cohesion_penalty * COST_SCALE))
    # The home part of the bound: fewest people that must stay unplaced among home households.
    n_home_unplaced = int((unplaced & home).sum())
    home_lb = int(np.sort(size[home])[:n_home_unplaced].sum()) * unplaced_unit
    objective = walk_cost + time_cost + unplaced_cost + cohesion_cost
    lower = flow_cost + home_lb
    load = np.zeros_like(grid.capacity)
    np.add.at(load, (site[at], slot[at]), size[at])
    violations = int((load > grid.capacity).sum())
    counts = np.bincount(mode, minlength=3)
    over_max = int((walk[at] > scenario.walk.max_minutes).sum())
    w = walk[at]
    span = np.bincount(cells // grid.capacity.size, minlength=len(registry.buildings))
    used = span[np.unique(hh.building[at])] if len(at) else np.zeros(0)
    return {
        "area": scenario.area,
        "households": len(hh),
        "people": int(size.sum()),
        "placed_households": int(counts[MODE_SITE] + counts[MODE_HOME]),
        "site_households": int(counts[MODE_SITE]),
        "site_people": int(size[at].sum()),
        "home_households": int(counts[MODE_HOME]),
        "home_people": int(size[mode == MODE_HOME].sum()),
        "unplaced_households": int(counts[MODE_UNPLACED]),
        "unplaced_people": int(size[unplaced].sum()),
        "over_max_walk_households": over_max,
        "objective": objective / COST_SCALE,
        "objective_parts": {
            "walk": walk_cost / COST_SCALE, "time_of_day": time_cost / COST_SCALE,
            "cohesion": cohesion_cost / COST_SCALE, "unplaced": unplaced_cost / COST_SCALE,
        },
        "lower_bound": lower / COST_SCALE,
        "gap": (objective - lower) / objective if objective > 0 else 0.0,
        "violations": violations,
        "split_households": 0,  # a household is one row with one assignment by construction
        "repair": repair_method,
        "seed": scenario.planner.seed,
        "inputs": dict(sorted(registry.hashes.items())),
        "window": {
            "start": grid.start.strftime("%Y-%m-%d %H:%M"), "slots": grid.n, "slot_minutes": grid.minutes,
            "end": grid.labels()[-1], "night_slots_used": int(np.isin(slot[at], np.flatnonzero(grid.night)).sum()),
            "last_slot_used": grid.labels()[int(slot[at].max()) + 1] if len(at) else None,
        },
        "walk_minutes": {
            "mean": round(float(w.mean()), 2) if len(w) else 0.0,
            "p95": round(float(np.percentile(w, 95)), 2) if len(w) else 0.0,
            "max": round(float(w.max()), 2) if len(w) else 0.0,
        },
        "building_slots": {
            "mean": round(float(used.mean()), 3) if len(used) else 0.0,
            "max": int(used.max()) if len(used) else 0,
            "extra_total": int(extra.sum()),
        },
        "capacity_people": int(grid.capacity.sum()),
        "sites": len(registry.sites),
        "tables": int(sum(s.tables for s in registry.sites)),
    }
