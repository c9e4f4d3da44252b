"""Baselines the planner is measured against, scored with the same objective.

- `greedy_plan`: each household, in call-down order, to the nearest candidate site that still has
  room, in its first free slot (what a spreadsheet-and-phone team does).
- `household_flow_plan`: the same min-cost flow, but with one node per household instead of one per
  (building, period) group, then the same rounding. It shows what aggregation saves in time and
  memory, and how often the household-level LP splits a household between sites.
"""

from __future__ import annotations

import time

import numpy as np

from sampler.model import Registry
from sampler.params import Scenario
from sampler.plan.bound import lagrangian_bound
from sampler.plan.flow import solve_flow
from sampler.plan.packing import assign_slots, split_groups
from sampler.plan.planner import Plan, complete_plan
from sampler.plan.problem import build_problem

__all__ = ["greedy_plan", "household_flow_plan"]


def greedy_plan(scenario: Scenario, registry: Registry) -> Plan:
    """Nearest site with room, first free slot; no optimisation, no bound."""
    clock0 = time.perf_counter()
    problem = build_problem(scenario, registry)
    hh, cand = registry.households, problem.cand
    residual = problem.grid.capacity.tolist()
    n_slots = problem.grid.n
    first_free = [0] * len(registry.sites)
    lo = np.searchsorted(cand.building, np.arange(len(registry.buildings)), side="left").tolist()
    hi = np.searchsorted(cand.building, np.arange(len(registry.buildings)), side="right").tolist()
    cand_site = cand.site.tolist()
    site = np.full(len(hh), -1, dtype=np.int64)
    slot = np.full(len(hh), -1, dtype=np.int64)
    queue = problem.site_queue
    sizes = hh.size[queue].tolist()
    buildings = hh.building[queue].tolist()
    for i, (h, size, b) in enumerate(zip(queue.tolist(), sizes, buildings, strict=True)):
        del i
        for k in range(lo[b], hi[b]):
            s = cand_site[k]
            row = residual[s]
            t = first_free[s]
            while t < n_slots and row[t] < size:
                t += 1
            if t < n_slots:
                row[t] -= size
                site[h], slot[h] = s, t
                while first_free[s] < n_slots and row[first_free[s]] <= 0:
                    first_free[s] += 1
                break
    return complete_plan(problem, site, slot, None, "greedy", {"solve_seconds": time.perf_counter() - clock0})


def household_flow_plan(scenario: Scenario, registry: Registry) -> tuple[Plan, int]:
    """Household-level min-cost flow and the same rounding; also returns households the LP split."""
    clock0 = time.perf_counter()
    problem = build_problem(scenario, registry)
    hh = registry.households
    queue = problem.site_queue
    sizes = hh.size[queue].astype(np.int64)
    arcs = problem.flow_arcs(hh.building[queue], hh.preferred[queue], sizes)
    flow = solve_flow(arcs)
    used = np.bincount(arcs.arc_group[flow.arc_flow > 0], minlength=len(queue)) + (flow.unplaced > 0)
    split = int((used > 1).sum())
    site_of = split_groups(sizes, np.arange(len(queue)), arcs, flow)
    slot_of, _ = assign_slots(problem, queue, site_of, flow)
    site = np.full(len(hh), -1, dtype=np.int64)
    slot = np.full(len(hh), -1, dtype=np.int64)
    site[queue], slot[queue] = np.where(slot_of >= 0, site_of, -1), slot_of
    lower = max(flow.cost, lagrangian_bound(problem, flow.prices)[1])  # the planner's bound, same LP duals
    plan = complete_plan(problem, site, slot, lower, "household-flow",
                         {"solve_seconds": time.perf_counter() - clock0})
    return plan, split
