"""A proven lower bound that also charges building cohesion: Lagrangian relaxation of capacity.

The flow's optimum (`sampler.plan.flow`) is the LP relaxation of the household model with cohesion left
out, so it never charges a building for being spread over several (site, slot) cells. This module
adds what cohesion must cost on top, without giving up the proof.

The objective scored by `sampler.plan.summary` is, over the site households,

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

**Cell capacity inside one building.** Capacity is dualised only where it couples buildings: the
constraint that b's own people in a cell do not exceed the cell's capacity is implied by the
original ones, so it may be kept in b's subproblem. It gives a second lower bound A'_b on the
all-placed minimum (`_capacity_bound`): with each site's least extra cost per person e_s ≥ 0 over
the person's cheapest cell, sort the sites by e and let W be the first j of them; m cells hold at
most m·max_W(cap) people at W-sites, everyone else pays at least the next e, so the all-placed cost
is at least Σ_c P_c·best_c + e_0·P + min_{m ≥ k_b} [u·(m − k_b) + (e_{j+1} − e_0)·(P − m·cap_W)⁺]
(m < k_b is never cheaper). A building larger than one cell of its nearest site thus pays either
the extra calls or the walk to a larger site. A_b is replaced by max(A_b, A'_b): both are lower
bounds of the same minimum.

**Classes that need cells of their own (label bound).** A'_b ignores preferences and A_b puts each
class whole in one cell, so neither sees that a building of more people than one cell holds, with
some households preferring the afternoon, needs its class-0 cells *and* an afternoon cell: A_b
credits class 0's second cell to the afternoon block. `_label_bound` keeps the building's own cell
capacity and the preferences together: for a partition of the classes into groups, label each
candidate cell ℓ with the group whose class is cheapest there relative to its best (e_c(ℓ) =
cost_c(ℓ) − best_c); θ_G = the least e_c (c ∈ G) over cells not labelled G. The labelled sets are
disjoint, a person of G outside G's cells pays at least θ_G, and j_G cells of G's label hold at most
j_G·cap_G of the building's people. So the all-placed extra over Σ_c P_c·best_c is at least
min over j of Σ_G θ_G·(P_G − j_G·cap_G)⁺ + u·(Σ_G j_G − k_b)⁺ (solved exactly by taking the largest
marginals, see the function), a third lower bound of the same minimum: A_b becomes
max(A_b, A'_b, A''_b). For each partition the argument holds whatever the labels are; the labelling
only makes it strong.

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

from sampler.model import IntArray
from sampler.plan.flow import COST_SCALE
from sampler.plan.problem import Problem

__all__ = ["lagrangian_bound"]


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


def lagrangian_bound(problem: Problem, prices: IntArray) -> tuple[int, int]:
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
    arc_g, arc_k = problem.candidate_arcs(g_b)
    n_arc = np.bincount(arc_g, minlength=len(gvals))
    per_arc = problem.arc_cost[arc_k] + site_best[cand.site[arc_k], g_c[arc_g]]
    best = np.full(len(gvals), BIG, dtype=np.int64)
    np.minimum.at(best, arc_g, np.minimum(per_arc, BIG))
    base_g = people * np.minimum(best, unplaced_unit)
    lower0 = int(base_g.sum()) - int((prices * grid.capacity).sum())

    u = math.floor(problem.scenario.planner.cohesion_penalty * COST_SCALE + 1e-9)
    if u <= 0 or not len(gvals):
        return lower0, lower0
    # Buildings (rows) whose groups all have some candidate site; the others keep Δ_b = 0.
    g_start = np.flatnonzero(np.r_[True, g_b[1:] != g_b[:-1]])
    n_in_b = np.diff(np.r_[g_start, len(gvals)])
    row_of_g = np.repeat(np.arange(len(g_start)), n_in_b)
    ok = np.minimum.reduceat(n_arc, g_start) > 0
    rb = g_b[g_start]
    p_b = np.zeros(len(g_start), dtype=np.int64)
    np.add.at(p_b, row_of_g, people)
    base_b = np.zeros(len(g_start), dtype=np.int64)
    np.add.at(base_b, row_of_g, base_g)
    placed_b = np.zeros(len(g_start), dtype=np.int64)  # Σ_c P_c · best_c: every household placed
    np.add.at(placed_b, row_of_g, people * np.where(n_arc > 0, best, 0))
    # Any unplaced household costs at least this much more than base_b.
    slack = np.full(len(g_start), BIG, dtype=np.int64)
    np.minimum.at(slack, row_of_g, smin * np.maximum(unplaced_unit - best, 0))
    # Candidate sites of each building: capacity of a cell, least extra cost per person over best.
    a_row, a_k = problem.candidate_arcs(rb)
    cell_cap = grid.capacity.max(axis=1, initial=0)[cand.site[a_k]]
    cap_b = np.zeros(len(g_start), dtype=np.int64)
    np.maximum.at(cap_b, a_row, cell_cap)
    k_b = -(-p_b // np.maximum(cap_b, 1))
    e_arc = np.full(len(cand.site), CLOSED, dtype=np.int64)
    np.minimum.at(e_arc, arc_k, np.minimum(per_arc - np.minimum(best[arc_g], per_arc), CLOSED))
    need = _capacity_bound(a_row, e_arc[a_k], cell_cap, p_b, k_b, u)
    all_placed = placed_b + need

    # Buildings with two or more classes: the partition bound (module docstring).
    multi = np.flatnonzero((n_in_b > 1) & ok)
    if len(multi):
        pc = np.zeros((len(multi), n_cls), dtype=np.int64)
        rows = np.repeat(np.arange(len(multi)), n_in_b[multi])
        gi = np.concatenate([np.arange(g_start[i], g_start[i] + n_in_b[i]) for i in multi])
        pc[rows, g_c[gi]] = people[gi]
        all_placed[multi] = np.maximum(all_placed[multi], _partition_bound(
            problem, v, pc, rb[multi], k_b[multi], u))
        all_placed[multi] = np.maximum(all_placed[multi], placed_b[multi] + _label_bound(
            problem, v, pc, rb[multi], k_b[multi], u, unplaced_unit))
    delta = np.where(ok, np.maximum(np.minimum(all_placed, base_b + slack) - base_b, 0), 0)
    return lower0, lower0 + int(delta.sum())


def _capacity_bound(a_row: IntArray, e: IntArray, cap: IntArray, people: IntArray, k: IntArray, u: int) -> IntArray:
    """Per building, a lower bound on its extra cost over everyone in their cheapest cell, given that
    one cell holds at most ``cap`` people of its site (``e``: least extra per person at each site).

    Sort the building's sites by e; take the first j as W. With m cells, at most m·max_W(cap)
    people are at W-sites; the others pay at least the (j+1)-th e, everyone at least the first. So
    the extra is at least e_0·P + min over m ≥ k of [u·(m − k) + (e_{j+1} − e_0)·(P − m·cap_W)⁺]; a
    piecewise linear function of m, whose minimum over the integers is at m = k, ⌊P/cap_W⌋ or
    ⌈P/cap_W⌉. The best j is kept (each is a valid bound).
    """
    n = len(people)
    if not len(a_row):
        return np.zeros(n, dtype=np.int64)
    width = int(np.bincount(a_row, minlength=n).max())
    first = np.searchsorted(a_row, np.arange(n))
    col = np.arange(len(a_row)) - first[a_row]
    em = np.full((n, width), CLOSED, dtype=np.int64)
    cm = np.zeros((n, width), dtype=np.int64)
    em[a_row, col], cm[a_row, col] = e, cap
    order = np.argsort(em, axis=1, kind="stable")
    em = np.take_along_axis(em, order, axis=1)
    cm = np.maximum.accumulate(np.take_along_axis(cm, order, axis=1), axis=1)
    e0 = em[:, 0]
    best = np.zeros(n, dtype=np.int64)
    for j in range(width):
        cw = np.maximum(cm[:, j], 1)
        e_out = (em[:, j + 1] if j + 1 < width else np.full(n, CLOSED)) - e0
        lo_m, hi_m = people // cw, -(-people // cw)
        val = np.full(n, BIG, dtype=np.int64)
        for m in (k, np.maximum(k, lo_m), np.maximum(k, hi_m)):
            val = np.minimum(val, u * (m - k) + e_out * np.maximum(people - m * cw, 0))
        best = np.maximum(best, val)
    return e0 * people + best


def _partition_bound(problem: Problem, v: IntArray, pc: IntArray, buildings: IntArray, k_b: IntArray, u: int) -> IntArray:
    """Per building with several classes (people ``pc`` per class), the exact all-placed minimum
    A_b of the module docstring: classes partitioned into blocks, each block in its cheapest common
    cell, u per block beyond k_b."""
    cand, n_cls = problem.cand, pc.shape[1]
    a_row, a_k = problem.candidate_arcs(buildings)
    a_site, a_walk = cand.site[a_k], problem.arc_cost[a_k]
    a_pc = pc[a_row]  # (arcs, classes)
    # Slots where every class pays the same offset over class 0 form a group; inside a group the
    # cheapest common cell of a block is the cheapest cell of each of its classes (same slot), so
    # per-group minima give the same value as all slots, several times faster.
    offsets = problem.slot_cost - problem.slot_cost[0]
    _, gid = np.unique(offsets.T, axis=0, return_inverse=True)
    gid = gid.reshape(-1)
    v = np.stack([v[:, :, gid == g].min(axis=2) for g in range(int(gid.max()) + 1)], axis=2)
    n_slots = v.shape[2]
    m_sub = np.zeros((1 << n_cls, len(buildings)), dtype=np.int64)
    row_start = np.r_[0, np.cumsum(np.bincount(a_row, minlength=len(buildings)))[:-1]]
    present = pc > 0
    for mask in range(1, 1 << n_cls):
        cls = [c for c in range(n_cls) if mask >> c & 1]
        if not present[:, cls].any():
            continue
        tot = a_pc[:, cls].sum(axis=1) * a_walk
        cell = np.zeros((len(a_k), n_slots), dtype=np.int64)
        for c in cls:
            cell += a_pc[:, c, None] * v[a_site, c, :]
        m_sub[mask] = np.minimum.reduceat(tot + cell.min(axis=1), row_start)
    best_a = np.full(len(buildings), BIG, dtype=np.int64)
    for part in _partitions(list(range(n_cls))):
        cost = np.zeros(len(buildings), dtype=np.int64)
        blocks = np.zeros(len(buildings), dtype=np.int64)
        for block in part:
            mask = sum(1 << c for c in block)
            used = present[:, block].any(axis=1)
            cost += np.where(used, m_sub[mask], 0)
            blocks += used
        best_a = np.minimum(best_a, cost + u * np.maximum(blocks - k_b, 0))
    return best_a


LABEL_CHUNK = 4096  # buildings per block of the label bound (bounds its (buildings × arcs × slots × classes) arrays)


def _label_bound(problem: Problem, v: IntArray, pc: IntArray, buildings: IntArray, k_b: IntArray, u: int,
                 cap_theta: int) -> IntArray:
    """Per building with several classes (people ``pc`` per class), a lower bound on its all-placed
    extra cost over Σ_c P_c·best_c that keeps the building's own cell capacity (the label bound of
    the module docstring): classes whose cheap cells differ need a cell count that fits their people.

    For each partition of the classes into groups, every open candidate cell ℓ of the building is
    labelled with the group G whose cheapest class there has the least extra cost e_c(ℓ) =
    cost_c(ℓ) − best_c (ties to the first group), and θ_G is the least e_c, c ∈ G, over the cells not
    labelled G (capped at ``cap_theta``). A person of G outside G's cells pays at least θ_G; inside
    at least 0. The labelled sets are disjoint, so a plan using j_G cells of G's label uses at
    least Σ_G j_G cells, and at most j_G·cap_G people of the building (cap_G: the largest cell of G's
    label) sit in them. Hence its extra cost is at least

        Σ_G θ_G·(P_G − min(P_G, j_G·cap_G))  +  u·(Σ_G j_G − k_b)⁺,     j_G ≤ #cells labelled G.

    The first term is convex in each j_G with marginals θ_G·min(cap_G, P_G − (j−1)·cap_G), which
    fall with j: the minimum over the j takes the k_b largest marginals free and each further one
    worth more than u. Every partition gives a valid bound; the largest is kept.
    """
    n_b, n_cls = pc.shape
    out = np.zeros(n_b, dtype=np.int64)
    mask = ((pc > 0) * (1 << np.arange(n_cls))).sum(axis=1)
    for m in np.unique(mask).tolist():
        # Only the classes present matter, and one group alone gives nothing: the partitions of the
        # present classes into two groups or more (one for two classes, most buildings).
        parts = [p for p in _partitions([c for c in range(n_cls) if m >> c & 1]) if len(p) > 1]
        rows = np.flatnonzero(mask == m)
        if not parts:
            continue
        for lo in range(0, len(rows), LABEL_CHUNK):
            r = rows[lo : lo + LABEL_CHUNK]
            out[r] = _label_chunk(problem, v, pc[r], buildings[r], k_b[r], u, cap_theta, parts)
    return out


def _label_chunk(problem: Problem, v: IntArray, pc: IntArray, buildings: IntArray, k_b: IntArray, u: int,
                 cap_theta: int, parts: list[list[list[int]]]) -> IntArray:
    """`_label_bound` for one block of buildings."""
    cand, grid = problem.cand, problem.grid
    n_b, n_cls = pc.shape
    a_row, a_k = problem.candidate_arcs(buildings)
    width = int(np.bincount(a_row, minlength=n_b).max(initial=1))
    first = np.searchsorted(a_row, np.arange(n_b))
    col = np.arange(len(a_row)) - first[a_row]
    n_slots = v.shape[2]
    # Cost per person of each class in each (arc, slot) cell: (buildings, cells, classes); CLOSED where shut.
    cost4 = np.full((n_b, width, n_slots, n_cls), CLOSED, dtype=np.int64)
    cost4[a_row, col] = np.minimum(problem.arc_cost[a_k][:, None, None] + v[cand.site[a_k]].transpose(0, 2, 1), CLOSED)
    cap3 = np.zeros((n_b, width, n_slots), dtype=np.int64)
    cap3[a_row, col] = grid.capacity[cand.site[a_k]]
    cost = cost4.reshape(n_b, width * n_slots, n_cls)
    cap = cap3.reshape(n_b, width * n_slots)
    is_open = cap > 0
    present = pc > 0
    best = np.where(is_open[:, :, None], cost, CLOSED).min(axis=1)  # (buildings, classes)
    e = np.where(is_open[:, :, None] & present[:, None, :], cost - best[:, None, :], CLOSED)
    rows = np.arange(n_b)
    result = np.zeros(n_b, dtype=np.int64)
    for part in parts:
        score = np.stack([e[:, :, g].min(axis=2) for g in part], axis=2)  # (buildings, cells, groups)
        label = np.where(is_open, score.argmin(axis=2), -1)
        values, counts = [], []
        total = np.zeros(n_b, dtype=np.int64)
        for gi, g in enumerate(part):
            p_g = pc[:, g].sum(axis=1)
            mine = label == gi
            theta = np.where(mine | ~is_open, CLOSED, score[:, :, gi]).min(axis=1)
            theta = np.minimum(theta, cap_theta)
            cap_g = np.where(mine, cap, 0).max(axis=1)
            n_cells = mine.sum(axis=1)
            full = np.minimum(p_g // np.maximum(cap_g, 1), n_cells)
            rest = np.where(full < n_cells, p_g - full * cap_g, 0)
            total += theta * p_g
            values += [theta * cap_g, theta * rest]
            counts += [full, (rest > 0).astype(np.int64)]
        val = np.stack(values, axis=1)
        cnt = np.stack(counts, axis=1)
        order = np.argsort(-val, axis=1, kind="stable")
        val, cnt = val[rows[:, None], order], cnt[rows[:, None], order]
        before = np.cumsum(cnt, axis=1) - cnt
        free = np.clip(k_b[:, None] - before, 0, cnt)
        gain = (val * free).sum(axis=1) + (np.maximum(val - u, 0) * (cnt - free)).sum(axis=1)
        result = np.maximum(result, total - gain)
    return result
