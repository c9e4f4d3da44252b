"""Place the few households the rounding left over into remaining capacity: CP-SAT when few, greedy else."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from sampler.model import IntArray

__all__ = ["RepairProblem", "repair"]



@dataclass(frozen=True, eq=False)
class RepairProblem:
    """Leftover households and their options.

    Attributes
    ----------
    size
        People per leftover household.
    opt_household, opt_site, opt_slot, opt_cost
        Options (household, site, slot) with integer cost per household (cost × size already).
    residual
        Free capacity per (site, slot); updated in place by the caller after repair.
    unplaced_cost
        Integer cost per household left unplaced (cost × size).
    """

    size: IntArray
    opt_household: IntArray
    opt_site: IntArray
    opt_slot: IntArray
    opt_cost: IntArray
    residual: IntArray
    unplaced_cost: IntArray


def _greedy(p: RepairProblem) -> IntArray:
    """Chosen option per household (−1 = none): largest households first, cheapest option that fits."""
    residual = p.residual.copy()
    choice = np.full(len(p.size), -1, dtype=np.int64)
    order_opts = np.lexsort((np.arange(len(p.opt_cost)), p.opt_cost, p.opt_household))
    starts = np.searchsorted(p.opt_household[order_opts], np.arange(len(p.size) + 1))
    for h in np.lexsort((np.arange(len(p.size)), -p.size)):
        for k in order_opts[starts[h] : starts[h + 1]]:
            s, t = p.opt_site[k], p.opt_slot[k]
            if residual[s, t] >= p.size[h]:
                residual[s, t] -= p.size[h]
                choice[h] = k
                break
    return choice


def _cp_sat(p: RepairProblem, hint: IntArray, seed: int, max_options: int) -> IntArray | None:
    """Exact repair on the cheapest options of each household; None if CP-SAT finds nothing."""
    model = cp_model.CpModel()
    keep: list[int] = []
    for h in range(len(p.size)):
        mine = np.flatnonzero(p.opt_household == h)
        mine = mine[np.lexsort((mine, p.opt_cost[mine]))][:max_options]
        if hint[h] >= 0 and hint[h] not in mine:
            mine = np.append(mine, hint[h])
        keep.extend(int(k) for k in mine)
    x = {k: model.new_bool_var(f"x{k}") for k in keep}
    by_household: dict[int, list[int]] = {}
    by_cell: dict[tuple[int, int], list[int]] = {}
    for k in keep:
        by_household.setdefault(int(p.opt_household[k]), []).append(k)
        by_cell.setdefault((int(p.opt_site[k]), int(p.opt_slot[k])), []).append(k)
    for ks in by_household.values():
        model.add_at_most_one(x[k] for k in ks)
    for (s, t), ks in by_cell.items():
        model.add(sum(int(p.size[p.opt_household[k]]) * x[k] for k in ks) <= int(p.residual[s, t]))
    placed_saving = sum(int(p.unplaced_cost[p.opt_household[k]] - p.opt_cost[k]) * x[k] for k in keep)
    model.maximize(placed_saving)
    for k in keep:
        model.add_hint(x[k], int(hint[p.opt_household[k]] == k))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = 5.0
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    choice = np.full(len(p.size), -1, dtype=np.int64)
    for k in keep:
        if solver.boolean_value(x[k]):
            choice[p.opt_household[k]] = k
    return choice


def repair(p: RepairProblem, limit: int, seed: int, max_options: int = 40) -> tuple[IntArray, str]:
    """Option chosen per leftover household (−1 = still unplaced) and the method used."""
    if not len(p.size):
        return np.zeros(0, dtype=np.int64), "none"
    greedy = _greedy(p)
    if len(p.size) > limit:
        return greedy, "greedy"
    exact = _cp_sat(p, greedy, seed, max_options)
    return (exact, "cp-sat") if exact is not None else (greedy, "greedy")
