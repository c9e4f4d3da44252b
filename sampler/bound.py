"""A proven lower bound that also charges building cohesion: Lagrangian relaxation of capacity.

The flow's optimum (`sampler.flow`) is the LP relaxation of the household model with cohesion left
out, so it never charges a building for being spread over several (site, slot) cells. This module
adds what cohesion must cost on top, without giving up the proof.

The objective scored by `sampler.summary` is, over the site households,

    Σ_h size_h · (walk_k(h) + slot_cost[class_h, t(h)])  +  U · (people left unplaced)
      + u · Σ_b max(cells_b − k_b, 0)

with ``cells_b`` the distinct (site, slot) cells building b uses, ``k_b = ceil(placed people of b /
largest slot capacity among b's candidate sites)`` and ``u`` the cohesion cost of one cell. Home
households are bounded separately by the summary.

**Lagrangian relaxation.** Take any prices π(s, t) ≥ 0 on the capacity of the open cells. For every
plan x that respects capacity, Σ π(s, t)·(load_x(s, t) − cap(s, t)) ≤ 0, so

    objective(x) ≥ objective(x) + Σ π·(load_x − cap) = Σ_b F_b(x_b; π) − Σ π·cap,

where F_b is building b's own part of the objective (its walks, slot costs, unplaced people and
cohesion) plus π times the people it puts in each cell. Nothing couples buildings any more, so

    objective(x) ≥ L(π) = Σ_b min_{x_b} F_b(x_b; π) − Σ π·cap        for every feasible x.

The minimum is over *every* way of sending b's households to its candidate sites' open cells (closed
cells stay forbidden; capacity is what was relaxed) or leaving them unplaced.

**Solving one building exactly.** Households of one preference class c pay the same per person in a
cell: cost_c(s, t) = walk(b, s) + slot_cost[c, t] + π(s, t). Once the set of used cells is fixed,
each household is best off in the cheapest of them for its class, so some optimum puts each class
whole in one cell, and the cohesion depends only on how many distinct cells the classes use. With
every household placed, the minimum is therefore

    A_b = min over partitions of b's classes into blocks of
          Σ_blocks min_cells Σ_{c in block} P_c · cost_c(cell)  +  u · max(#blocks − k_b, 0)

(two blocks choosing the same cell are covered by the coarser partition, which costs no more); at
most four classes give 15 partitions. A solution that leaves some household of class c unplaced
costs at least base_b + smin_c · (U − best_c), where best_c is the cheapest cell of class c,
``base_b = Σ_c P_c · min(U, best_c)`` and smin_c the smallest household of the class. Hence
min F_b ≥ min(A_b, base_b + min_c smin_c·(U − best_c)) ≥ base_b, and the bound is

    L(π) = Σ_b base_b − Σ π·cap  +  Σ_b Δ_b,     Δ_b = min(A_b, base_b + min_c …) − base_b ≥ 0.

With Δ dropped, Σ_b base_b − Σ π·cap is the ordinary Lagrangian dual of the flow, equal to the LP
optimum when π are the optimal LP duals (the flow's residual shortest-path prices). The planner
reports max(LP optimum, L(π)); both are proven bounds. Δ_b is positive only for a building whose
classes cannot share one cell for free, e.g. households preferring the morning and others the
evening: keeping each in its period needs two cells, moving one costs its preference penalty.

Cohesion ``u`` is taken as floor(cohesion_penalty × COST_SCALE) per cell: an integer no larger than
the real cost, so u·E ≤ floor(real·E) ≤ the rounded cohesion the summary charges.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from sampler.flow import COST_SCALE
from sampler.problem import Problem

__all__ = ["lagrangian_bound"]

Int = npt.NDArray[np.int64]

BIG = np.iinfo(np.int64).max // 8
CLOSED = 10**12  # cost per person of a closed cell: above any real cost, far from overflow


def _partitions(items: list[int]) -> list[list[list[int]]]:
    """All set partitions of ``items``."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for part in _partitions(rest):
        out.append([[first], *part])
        for i in range(len(part)):
            out.append([*part[:i], [first, *part[i]], *part[i + 1 :]])
    return out


def lagrangian_bound(problem: Problem, prices: Int) -> tuple[int, int]:
    """(L(π) without cohesion, L(π) with cohesion) in integer cost units, for the site households.

    ``prices`` are π(s, t) ≥ 0 per (site, slot); see the module docstring for the proof.
    """
    hh, grid, cand = problem.registry.households, problem.grid, problem.cand
    prices = np.maximum(np.asarray(prices, dtype=np.int64), 0)
    n_cls = problem.slot_cost.shape[0]
    n_sites, n_slots = grid.capacity.shape
    q = problem.site_queue
    unplaced_unit = int(problem.unplaced_cost)
    is_open = grid.capacity > 0
    # Per (site, class, slot): slot cost plus price, closed cells excluded.
    v = problem.slot_cost[None, :, :] + prices[:, None, :]
    v = np.where(is_open[:, None, :], np.minimum(v, CLOSED), CLOSED)
    site_best = v.min(axis=2)  # (site, class)

    # Groups (building, class) of site households: people and smallest household.
    key = hh.building[q] * n_cls + hh.preferred[q]
    gvals, ginv = np.unique(key, return_inverse=True)
    g_b, g_c = np.divmod(gvals, n_cls)
    size_q = hh.size[q].astype(np.int64)
    people = np.bincount(ginv, weights=size_q, minlength=len(gvals)).astype(np.int64)
    smin = np.full(len(gvals), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smin, ginv, size_q)

    # Candidate arcs of each group.
    lo = np.searchsorted(cand.building, g_b, side="left")
    n_arc = np.searchsorted(cand.building, g_b, side="right") - lo
    arc_g = np.repeat(np.arange(len(gvals)), n_arc)
    arc_k = np.repeat(lo - np.concatenate([[0], np.cumsum(n_arc)[:-1]]), n_arc) + np.arange(int(n_arc.sum()))
    per_arc = problem.arc_cost[arc_k] + site_best[cand.site[arc_k], g_c[arc_g]]
    best = np.full(len(gvals), BIG, dtype=np.int64)
    np.minimum.at(best, arc_g, np.minimum(per_arc, BIG))
    base_g = people * np.minimum(best, unplaced_unit)
    lower0 = int(base_g.sum()) - int((prices * grid.capacity).sum())

    u = math.floor(problem.scenario.planner.cohesion_penalty * COST_SCALE + 1e-9)
    if u <= 0 or not len(gvals):
        return lower0, lower0
    # Buildings with two or more classes, all with some candidate site: the only ones where Δ_b > 0.
    g_start = np.flatnonzero(np.r_[True, g_b[1:] != g_b[:-1]])
    n_in_b = np.diff(np.r_[g_start, len(gvals)])
    all_arcs = np.minimum.reduceat(n_arc, g_start) > 0
    multi = np.flatnonzero((n_in_b > 1) & all_arcs)
    if not len(multi):
        return lower0, lower0
    mb = g_b[g_start[multi]]
    # People per (multi building, class) and the building's k_b.
    pc = np.zeros((len(multi), n_cls), dtype=np.int64)
    rows = np.repeat(np.arange(len(multi)), n_in_b[multi])
    gi = np.concatenate([np.arange(g_start[i], g_start[i] + n_in_b[i]) for i in multi])
    pc[rows, g_c[gi]] = people[gi]
    base_b = np.zeros(len(multi), dtype=np.int64)
    np.add.at(base_b, rows, base_g[gi])
    # Any unplaced household costs at least this much more than base_b.
    slack = np.full(len(multi), BIG, dtype=np.int64)
    np.minimum.at(slack, rows, smin[gi] * np.maximum(unplaced_unit - best[gi], 0))
    largest = grid.capacity.max(axis=1, initial=0)
    b_lo = np.searchsorted(cand.building, mb, side="left")
    b_n = np.searchsorted(cand.building, mb, side="right") - b_lo
    a_row = np.repeat(np.arange(len(multi)), b_n)
    a_k = np.repeat(b_lo - np.concatenate([[0], np.cumsum(b_n)[:-1]]), b_n) + np.arange(int(b_n.sum()))
    cap_b = np.zeros(len(multi), dtype=np.int64)
    np.maximum.at(cap_b, a_row, largest[cand.site[a_k]])
    k_b = -(-pc.sum(axis=1) // np.maximum(cap_b, 1))

    # M[S] per building: cheapest common cell of the classes in subset S (bit mask), all arcs.
    a_site, a_walk = cand.site[a_k], problem.arc_cost[a_k]
    a_pc = pc[a_row]  # (arcs, classes)
    n_sub = 1 << n_cls
    m_sub = np.zeros((n_sub, len(multi)), dtype=np.int64)
    row_start = np.r_[0, np.cumsum(b_n)[:-1]]
    for mask in range(1, n_sub):
        cls = [c for c in range(n_cls) if mask >> c & 1]
        p_s = a_pc[:, cls].sum(axis=1)
        tot = p_s * a_walk
        cell = np.zeros((len(a_k), n_slots), dtype=np.int64)
        for c in cls:
            cell += a_pc[:, c, None] * v[a_site, c, :]
        tot = tot + cell.min(axis=1)
        m_sub[mask] = np.minimum.reduceat(tot, row_start)
    present = pc > 0
    best_a = np.full(len(multi), BIG, dtype=np.int64)
    for part in _partitions(list(range(n_cls))):
        cost = np.zeros(len(multi), dtype=np.int64)
        blocks = np.zeros(len(multi), dtype=np.int64)
        for block in part:
            mask = sum(1 << c for c in block)
            used = present[:, block].any(axis=1)
            cost += np.where(used, m_sub[mask], 0)
            blocks += used
        cost += u * np.maximum(blocks - k_b, 0)
        best_a = np.minimum(best_a, cost)
    delta = np.maximum(np.minimum(best_a, base_b + slack) - base_b, 0)
    return lower0, lower0 + int(delta.sum())
