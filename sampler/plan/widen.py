"""Widening: site households still unplaced after the repair look at farther sites, up to a hard reach.

The flow and the repair see only each building's ``planner.candidate_sites`` nearest sites. When
those are full, the households left over query the k-d tree again for 2k, 4k, … nearest public
sites within ``planner.hard_reach × walk.max_minutes`` and are placed where a slot has room
(CP-SAT on the options when few, as in the repair; then a greedy sweep that places anyone who still
fits anywhere within reach, so nobody stays unplaced while a site within reach has room). Walks over
``walk.max_minutes`` cost the over-walk penalty like any other and are flagged in the plan.

Why the bound stays a bound. The flow's optimum bounds the household model over the *original*
candidates only; a plan that uses a widened arc could in principle beat it (a widened walk costs less
than leaving people unplaced), so that number is no longer a lower bound. The planner therefore
scores the plan on the problem extended with every arc the widening looked at (`extend_problem`:
same costs, the over-walk penalty on walks beyond the limit) and solves the aggregated flow and the
Lagrangian bound again on it. The extended flow is the LP relaxation of the household model over
the extended arcs (households divisible, cohesion free), so its optimum is ≤ the best plan using
any of those arcs ≤ this plan's objective; the Lagrangian bound's proof (`sampler.plan.bound`) holds
for any candidate set, hence for the extended one. The planner also packs that extended flow and
widens its leftovers (neighbours of the leftovers may move to make room) and keeps the cheaper plan;
if that second widening looks further still, the bound is solved once more on the final arcs.
Plans with nothing to widen keep the original problem and bound unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sampler.model import IntArray, RiskZone
from sampler.plan.flow import COST_SCALE
from sampler.plan.geo import Candidates, sites_within
from sampler.plan.problem import Problem
from sampler.plan.repair import RepairProblem, repair

__all__ = ["extend_problem", "widen"]


def _arc_cost(problem: Problem, minutes: np.ndarray) -> IntArray:
    """Integer cost per person of arcs of these walking minutes (as `build_problem` prices them)."""
    pp, over = problem.scenario.planner, minutes > problem.scenario.walk.max_minutes
    return np.round(minutes * COST_SCALE).astype(np.int64) + np.round(over * pp.overmax_penalty * COST_SCALE).astype(np.int64)


def widen(problem: Problem, site: IntArray, slot: IntArray) -> tuple[Problem, IntArray, str]:
    """Place site households still unplaced (``site`` −1) at farther sites within the hard reach, in place.

    Returns the problem extended with the arcs looked at (``problem`` itself when nobody needed
    widening), the households placed by widening, and the method ('none', 'cp-sat' or 'greedy').
    """
    reg, pp = problem.registry, problem.scenario.planner
    hh = reg.households
    q = problem.site_queue
    todo = q[site[q] < 0]
    zone = np.asarray(reg.buildings.zone)
    todo = todo[zone[hh.building[todo]] == RiskZone.PRECAUTION]  # controlled zones keep their own sites
    n_public = sum(1 for s in reg.sites if not s.serves)
    if not len(todo) or not n_public:
        return problem, np.zeros(0, dtype=np.int64), "none"
    reach = problem.scenario.walk.max_minutes * pp.hard_reach
    at = site >= 0
    residual = problem.grid.capacity.copy()
    np.subtract.at(residual, (site[at], slot[at]), hh.size[at].astype(np.int64))
    seen_b: list[IntArray] = []
    seen_s: list[IntArray] = []
    seen_w: list[np.ndarray] = []
    placed: list[IntArray] = []
    methods: list[str] = []
    k = pp.candidate_sites
    while len(todo):
        k = min(2 * k, n_public)
        blds = np.unique(hh.building[todo])
        b, s, w, cut = sites_within(reg.buildings, reg.sites, problem.scenario.walk, blds, k, reach)
        seen_b.append(b)
        seen_s.append(s)
        seen_w.append(w)
        methods.append(_place(problem, todo, b, s, _arc_cost(problem, w), residual, site, slot))
        placed.append(todo[site[todo] >= 0])
        todo = todo[site[todo] < 0]
        todo = todo[np.isin(hh.building[todo], blds[cut])]  # others have seen every site within reach
        if k >= n_public:
            break
    got = np.sort(np.concatenate(placed))
    method = "cp-sat" if "cp-sat" in methods else ("greedy" if methods else "none")
    return extend_problem(problem, np.concatenate(seen_b), np.concatenate(seen_s), np.concatenate(seen_w)), got, method


def _place(
    problem: Problem, todo: IntArray, arc_b: IntArray, arc_s: IntArray, arc_cost: IntArray, residual: IntArray,
    site: IntArray, slot: IntArray,
) -> str:
    """Place ``todo`` households on the arcs (building-sorted) where a slot has room; update in place."""
    hh = problem.registry.households
    n_sites, n_slots = residual.shape
    new_cell = round(problem.scenario.planner.cohesion_penalty * COST_SCALE)
    at = (site >= 0) & np.isin(hh.building, hh.building[todo])
    used = set((hh.building[at] * n_sites * n_slots + site[at] * n_slots + slot[at]).tolist())
    lo = np.searchsorted(arc_b, hh.building[todo], "left")
    hi = np.searchsorted(arc_b, hh.building[todo], "right")
    method = "greedy"
    if len(todo) <= problem.scenario.planner.repair_limit:
        opt_h: list[int] = []
        opt_s: list[int] = []
        opt_t: list[int] = []
        opt_c: list[int] = []
        for i, h in enumerate(todo.tolist()):
            size, klass, b = int(hh.size[h]), int(hh.preferred[h]), int(hh.building[h])
            for a in range(int(lo[i]), int(hi[i])):
                s_a = int(arc_s[a])
                free = np.flatnonzero(residual[s_a] >= size)
                cells = b * n_sites * n_slots + s_a * n_slots + free
                extra = np.array([0 if c in used else new_cell for c in cells.tolist()], dtype=np.int64)
                opt_h.extend([i] * len(free))
                opt_s.extend([s_a] * len(free))
                opt_t.extend(free.tolist())
                opt_c.extend(((arc_cost[a] + problem.slot_cost[klass, free]) * size + extra).tolist())
        rp = RepairProblem(
            size=hh.size[todo].astype(np.int64), opt_household=np.asarray(opt_h, dtype=np.int64),
            opt_site=np.asarray(opt_s, dtype=np.int64), opt_slot=np.asarray(opt_t, dtype=np.int64),
            opt_cost=np.asarray(opt_c, dtype=np.int64), residual=residual,
            unplaced_cost=hh.size[todo].astype(np.int64) * problem.unplaced_cost,
        )
        choice, method = repair(rp, problem.scenario.planner.repair_limit, problem.scenario.planner.seed)
        for i in np.flatnonzero(choice >= 0).tolist():
            h, s_c, t_c = int(todo[i]), int(rp.opt_site[choice[i]]), int(rp.opt_slot[choice[i]])
            site[h], slot[h] = s_c, t_c
            residual[s_c, t_c] -= int(hh.size[h])
            used.add(int(hh.building[h]) * n_sites * n_slots + s_c * n_slots + t_c)
    # Greedy sweep: largest households first, the cheapest cell with room among all arcs. After it
    # nobody in ``todo`` is unplaced while one of its arcs has a slot with room for it.
    order = np.lexsort((todo, -hh.size[todo].astype(np.int64)))
    for i in order.tolist():
        h = int(todo[i])
        if site[h] >= 0 or hi[i] == lo[i]:
            continue
        size, klass, b = int(hh.size[h]), int(hh.preferred[h]), int(hh.building[h])
        sa = arc_s[lo[i] : hi[i]]
        cost = (arc_cost[lo[i] : hi[i], None] + problem.slot_cost[klass][None, :]) * size
        cost = cost + new_cell
        for c in used:
            cb, rest = divmod(c, n_sites * n_slots)
            if cb == b:
                cs, ct = divmod(rest, n_slots)
                cost[sa == cs, ct] -= new_cell
        cost = np.where(residual[sa] >= size, cost, np.iinfo(np.int64).max)
        best = int(np.argmin(cost))
        if cost.flat[best] == np.iinfo(np.int64).max:
            continue
        a, t = divmod(best, n_slots)
        site[h], slot[h] = int(sa[a]), t
        residual[sa[a], t] -= size
        used.add(b * n_sites * n_slots + int(sa[a]) * n_slots + t)
    return method


def extend_problem(problem: Problem, b: IntArray, s: IntArray, w: np.ndarray) -> Problem:
    """``problem`` with the arcs (building, site, minutes) added to its candidates (duplicates dropped)."""
    cand = problem.cand
    n_sites = max(len(problem.registry.sites), 1)
    old = cand.building * n_sites + cand.site
    key = b * n_sites + s
    distinct, first = np.unique(key, return_index=True)
    old = np.sort(old)
    at = np.minimum(np.searchsorted(old, distinct), max(len(old) - 1, 0))
    known = old[at] == distinct if len(old) else np.zeros(len(distinct), dtype=bool)
    new = first[~known]
    if not len(new):
        return problem
    all_b = np.concatenate([cand.building, b[new]])
    all_s = np.concatenate([cand.site, s[new]])
    all_w = np.concatenate([cand.walk, w[new]])
    order = np.lexsort((all_s, all_w, all_b))
    wide = Candidates(building=all_b[order], site=all_s[order], walk=all_w[order], home_reason=cand.home_reason)
    cost = np.concatenate([problem.arc_cost, _arc_cost(problem, w[new])])[order]
    return replace(problem, cand=wide, arc_cost=cost)


def shortfall(problem: Problem, households: IntArray) -> list[dict[str, object]]:
    """Where tables are missing: per nearest site of the given (unplaced site) households, the slot
    range and the extra tables that would place them on their own.

    Each household counts at the nearest site it may use; the range is that site's open day slots
    (every open slot when none is by day). Tables = ⌈people ÷ (people one table takes per slot ×
    slots in the range)⌉, the throughput per table as the slot grid computes it.
    """
    hh, cand, grid = problem.registry.households, problem.cand, problem.grid
    utilisation, sites = problem.scenario.capacity.utilisation, problem.registry.sites
    b = hh.building[households]
    lo = np.searchsorted(cand.building, b, "left")
    has = np.searchsorted(cand.building, b, "right") > lo
    households, lo = households[has], lo[has]
    if not len(households):
        return []
    keys, inv = np.unique(cand.site[lo], return_inverse=True)
    people = np.bincount(inv, weights=hh.size[households], minlength=len(keys)).astype(np.int64)
    count = np.bincount(inv, minlength=len(keys))
    labels = grid.labels()
    out: list[dict[str, object]] = []
    for j, s in enumerate(keys.tolist()):
        is_open = grid.capacity[s] > 0
        want = is_open & ~grid.night
        if not want.any():
            want = is_open if is_open.any() else np.ones(grid.n, dtype=bool)
        slots = np.flatnonzero(want)
        per_table = max(int(np.floor(sites[s].rate * grid.minutes / 60 * utilisation + 1e-9)), 1)
        out.append({
            "site_id": sites[s].id, "site": sites[s].name,
            "slot_start": labels[int(slots[0])], "slot_end": labels[int(slots[-1]) + 1],
            "households": int(count[j]), "people": int(people[j]),
            "tables": int(-(-int(people[j]) // (per_table * len(slots)))),
        })
    return out
