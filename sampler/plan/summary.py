"""Score a finished assignment: objective (same costs as the flow), bound, gap and invariant checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sampler.io.timefmt import format_slot
from sampler.model import FloatArray, IntArray
from sampler.plan.flow import COST_SCALE
from sampler.plan.geo import Candidates
from sampler.plan.problem import Problem
from sampler.plan.slots import SlotGrid

__all__ = ["MODE_HOME", "MODE_SITE", "MODE_UNPLACED", "summarise", "unplaced_reasons"]

MODE_UNPLACED, MODE_SITE, MODE_HOME = 0, 1, 2


def unplaced_reasons(problem: Problem, reason: npt.NDArray[np.object_], mode: IntArray) -> None:
    """Say, per unplaced site household, which sites within reach were full (one text per building)."""
    todo = np.flatnonzero((mode == MODE_UNPLACED) & ~problem.home)
    if not len(todo):
        return
    cand, sites, max_walk = problem.cand, problem.registry.sites, problem.scenario.walk.max_minutes
    blds, inverse = np.unique(problem.registry.households.building[todo], return_inverse=True)
    texts = np.empty(len(blds), dtype=object)
    lo_all = np.searchsorted(cand.building, blds, "left")
    hi_all = np.searchsorted(cand.building, blds, "right")
    for i, (lo, hi) in enumerate(zip(lo_all.tolist(), hi_all.tolist(), strict=True)):
        if hi == lo:
            texts[i] = "no sampling site can serve this building; add a site or list it in a site's serves"
            continue
        near = [f"{sites[s].name} ({sites[s].id}, {w:g} min)" for s, w in zip(cand.site[lo:hi], cand.walk[lo:hi], strict=True)]
        within = [x for x, w in zip(near, cand.walk[lo:hi], strict=True) if w <= max_walk] or near[:1]
        texts[i] = "no capacity left: every slot full at " + "; ".join(within[:4]) + "; add tables or a site"
    reason[todo] = texts[inverse]


def _largest_slot(grid: SlotGrid, cand: Candidates, n_buildings: int) -> npt.NDArray[np.float64]:
    """Per building, the largest slot capacity among its candidate sites: it needs at least
    ceil(people / this) (site, slot) cells, so extra cells are counted beyond that."""
    site_max = grid.capacity.max(axis=1, initial=0).astype(np.float64)
    out = np.ones(n_buildings)
    if len(cand.building):
        starts = np.flatnonzero(np.r_[True, cand.building[1:] != cand.building[:-1]])
        out[cand.building[starts]] = np.maximum(np.maximum.reduceat(site_max[cand.site], starts), 1.0)
    return out


def summarise(
    problem: Problem, mode: IntArray, site: IntArray, slot: IntArray, walk: FloatArray, arc_of: IntArray,
    *, lower_cost: int | None, repair_method: str, widened: IntArray | None = None,
) -> dict[str, Any]:
    """Objective, bound, gap and the invariant checks of the final arrays, scored with ``problem``'s costs.

    ``arc_of`` is the candidate arc of each site household (in household order); ``lower_cost`` a
    proven lower bound on the site households' cost in integer units (None when there is none);
    ``widened`` the households placed by widening beyond their candidates (`sampler.plan.widen`).
    """
    from sampler.plan.widen import shortfall
    scenario, registry, grid, cand, home = problem.scenario, problem.registry, problem.grid, problem.cand, problem.home
    arc_unit_cost, slot_cost, unplaced_unit = problem.arc_cost, problem.slot_cost, problem.unplaced_cost
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
    extra = np.maximum(spread - np.ceil(b_people / _largest_slot(grid, cand, len(registry.buildings))), 0)
    cohesion_cost = int(round(float(extra.sum()) * scenario.planner.cohesion_penalty * COST_SCALE))
    # The home part of the bound: fewest people that must stay unplaced among home households.
    n_home_unplaced = int((unplaced & home).sum())
    home_lb = int(np.sort(size[home])[:n_home_unplaced].sum()) * unplaced_unit
    objective = walk_cost + time_cost + unplaced_cost + cohesion_cost
    lower = None if lower_cost is None else lower_cost + home_lb
    load = np.zeros_like(grid.capacity)
    np.add.at(load, (site[at], slot[at]), size[at])
    violations = int((load > grid.capacity).sum())
    counts = np.bincount(mode, minlength=3)
    over_max = int((walk[at] > scenario.walk.max_minutes).sum())
    w = walk[at]
    span = np.bincount(cells // grid.capacity.size, minlength=len(registry.buildings))
    used = span[np.unique(hh.building[at])] if len(at) else np.zeros(0)
    wide = np.zeros(0, dtype=np.int64) if widened is None else widened
    wide_extra = np.maximum(walk[wide] - scenario.walk.max_minutes, 0.0)
    short = shortfall(problem, np.flatnonzero(unplaced & ~home))
    # Present only when the plan had leftovers to widen or still has unplaced site households, so
    # plans that placed everyone from their candidates keep their plan.json unchanged.
    more: dict[str, Any] = {} if not (len(wide) or short) else {
        "widening": {
            "hard_reach_minutes": round(scenario.walk.max_minutes * scenario.planner.hard_reach, 2),
            "households": len(wide),
            "extra_walk_minutes_total": round(float(wide_extra.sum()), 1),
            "extra_walk_minutes_max": round(float(wide_extra.max(initial=0.0)), 1),
        },
        "shortfall": {"tables": sum(int(str(x["tables"])) for x in short), "sites": short},
    }
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
        **more,
        "objective": objective / COST_SCALE,
        "objective_parts": {
            "walk": walk_cost / COST_SCALE, "time_of_day": time_cost / COST_SCALE,
            "cohesion": cohesion_cost / COST_SCALE, "unplaced": unplaced_cost / COST_SCALE,
        },
        "lower_bound": None if lower is None else lower / COST_SCALE,
        "gap": None if lower is None else ((objective - lower) / objective if objective > 0 else 0.0),
        "violations": violations,
        "split_households": 0,  # a household is one row with one assignment by construction
        "repair": repair_method,
        "seed": scenario.planner.seed,
        "inputs": dict(sorted(registry.hashes.items())),
        "window": {
            "start": format_slot(grid.start), "slots": grid.n, "slot_minutes": grid.minutes,
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
