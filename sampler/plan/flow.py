"""The aggregated assignment model, solved exactly as a min-cost flow.

Households are grouped by (building, preferred period). The network

    group ──walk──▶ (site, period) ──slot penalty──▶ (site, slot) ──capacity──▶ sink
      └────────────────────── unplaced penalty ─────────────────────────────────┘

carries people. Its optimum is the LP relaxation of the household model (households may be split,
building cohesion is free), so its cost is a proven lower bound for every household-level plan.
All costs are integers in tenths of a person-minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.graph.python import min_cost_flow

from sampler.model import IntArray

__all__ = ["COST_SCALE", "FlowSolution", "GroupArcs", "residual_prices", "solve_flow"]

COST_SCALE = 10  # integer cost units per person-minute


@dataclass(frozen=True, eq=False)
class GroupArcs:
    """Input of the flow: groups, their candidate sites and the slot costs.

    Attributes
    ----------
    supply
        People per group.
    group_class
        Preference class (period code) of each group.
    arc_group, arc_site, arc_cost
        Candidate arcs group → site with integer cost per person (walk, plus any over-walk penalty).
    slot_cost
        Integer cost per person, shape (classes, slots).
    capacity
        People per (site, slot).
    unplaced_cost
        Integer cost per unplaced person.
    """

    supply: IntArray
    group_class: IntArray
    arc_group: IntArray
    arc_site: IntArray
    arc_cost: IntArray
    slot_cost: IntArray
    capacity: IntArray
    unplaced_cost: int


@dataclass(frozen=True, eq=False)
class FlowSolution:
    """Optimal flows.

    Attributes
    ----------
    arc_flow
        People on each candidate arc (same order as GroupArcs.arc_*).
    unplaced
        People per group left unplaced.
    quota
        People per (site, class, slot): shape (sites, classes, slots). People of a preference class
        placed outside their period are counted under class 0 (they reach slots through the bypass).
    cost
        Optimal cost in integer units.
    prices
        Dual price of one more person of capacity per (site, slot), ≥ 0 (0 where closed): the LP
        dual of the capacity constraints, used by `sampler.plan.bound` for the Lagrangian bound.
    """

    arc_flow: IntArray
    unplaced: IntArray
    quota: IntArray
    cost: int
    prices: IntArray


def _slot_arcs(
    arcs: GroupArcs, sc_site: IntArray, sc_class: IntArray, slots_of_site: list[IntArray]
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(site, class) → slot arcs: (sc node, slot, cost), plus the bypass cost of each sc node.

    A preference class differs from class 0 only by a constant penalty outside its period, so it
    gets direct arcs to the slots of its period and one bypass arc to its site's class-0 node that
    carries the penalty: the same costs with ~4× fewer arcs than connecting every slot.
    """
    diff = arcs.slot_cost - arcs.slot_cost[0]
    bypass = diff.max(axis=1)
    exact = np.array([set(np.unique(d).tolist()) <= {0, int(b)} for d, b in zip(diff, bypass, strict=True)])
    rep_sc_parts, rep_slot_parts = [], []
    for i, (s, c) in enumerate(zip(sc_site.tolist(), sc_class.tolist(), strict=True)):
        t = slots_of_site[s]
        if c != 0 and exact[c]:
            t = t[diff[c, t] == 0]
        rep_sc_parts.append(np.full(len(t), i, dtype=np.int64))
        rep_slot_parts.append(t)
    rep_sc = np.concatenate(rep_sc_parts) if rep_sc_parts else np.zeros(0, np.int64)
    rep_slot = np.concatenate(rep_slot_parts) if rep_slot_parts else np.zeros(0, np.int64)
    node_bypass = np.where((sc_class != 0) & exact[sc_class] & (bypass[sc_class] > 0), bypass[sc_class], -1)
    return rep_sc, rep_slot, arcs.slot_cost[sc_class[rep_sc], rep_slot], node_bypass


def solve_flow(arcs: GroupArcs) -> FlowSolution:
    """Build the network with OR-Tools' array API and solve it to optimality."""
    n_groups = len(arcs.supply)
    n_sites, n_slots = arcs.capacity.shape
    n_classes = arcs.slot_cost.shape[0]
    total = int(arcs.supply.sum())

    # (site, class) nodes that some arc reaches, plus the class-0 node of every such site.
    sc_key = arcs.arc_site * n_classes + arcs.group_class[arcs.arc_group]
    sc_used = np.unique(np.concatenate([sc_key, (sc_key // n_classes) * n_classes]))
    sc_index = np.searchsorted(sc_used, sc_key)
    sc_site, sc_class = np.divmod(sc_used, n_classes)
    open_site, open_slot = np.nonzero(arcs.capacity > 0)
    st_index = np.full((n_sites, n_slots), -1, dtype=np.int64)
    st_index[open_site, open_slot] = np.arange(len(open_site))

    base_sc = n_groups
    base_st = base_sc + len(sc_used)
    sink = base_st + len(open_site)

    slots_of_site = [np.flatnonzero(arcs.capacity[s] > 0) for s in range(n_sites)]
    rep_sc, rep_slot, rep_cost, node_bypass = _slot_arcs(arcs, sc_site, sc_class, slots_of_site)
    rep_site = sc_site[rep_sc]
    by_nodes = np.flatnonzero(node_bypass >= 0)
    by_target = np.searchsorted(sc_used, sc_site[by_nodes] * n_classes)

    tails = np.concatenate([
        arcs.arc_group,
        np.arange(n_groups),
        base_sc + rep_sc,
        base_st + np.arange(len(open_site)),
        base_sc + by_nodes,
    ])
    heads = np.concatenate([
        base_sc + sc_index,
        np.full(n_groups, sink),
        base_st + st_index[rep_site, rep_slot],
        np.full(len(open_site), sink),
        base_sc + by_target,
    ])
    caps = np.concatenate([
        arcs.supply[arcs.arc_group],
        arcs.supply,
        np.full(len(rep_sc), total),
        arcs.capacity[open_site, open_slot],
        np.full(len(by_nodes), total),
    ])
    costs = np.concatenate([
        arcs.arc_cost,
        np.full(n_groups, arcs.unplaced_cost),
        rep_cost,
        np.zeros(len(open_site), dtype=np.int64),
        node_bypass[by_nodes],
    ])
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_groups] = arcs.supply
    supplies[sink] = -total

    smcf = min_cost_flow.SimpleMinCostFlow()
    arc_ids = smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps.astype(np.int64), costs.astype(np.int64)
    )
    smcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow did not solve to optimality (status {status})")
    flows = smcf.flows(arc_ids)

    n_cand = len(arcs.arc_group)
    arc_flow = flows[:n_cand]
    unplaced = flows[n_cand : n_cand + n_groups]
    rep_flow = flows[n_cand + n_groups : n_cand + n_groups + len(rep_sc)]
    quota = np.zeros((n_sites, n_classes, n_slots), dtype=np.int64)
    np.add.at(quota, (rep_site, sc_class[rep_sc], rep_slot), rep_flow)
    dist = residual_prices(tails, heads, caps, costs, flows, sink)
    prices = np.zeros((n_sites, n_slots), dtype=np.int64)
    prices[open_site, open_slot] = np.maximum(dist[base_st : base_st + len(open_site)], 0)
    return FlowSolution(arc_flow=arc_flow, unplaced=unplaced, quota=quota, cost=int(smcf.optimal_cost()),
                        prices=prices)


def residual_prices(tails: IntArray, heads: IntArray, caps: IntArray, costs: IntArray, flows: IntArray, sink: int,
                    max_rounds: int = 10_000) -> IntArray:
    """Cost of sending one more unit from each node to the sink in the residual network.

    Bellman–Ford from the sink over the reversed residual arcs, one vectorised relaxation round at a
    time (an optimal flow has no negative cycle, so it converges; in practice in a dozen rounds).
    For a (site, slot) node this is the LP dual price of its capacity. Nodes that cannot reach the
    sink get a huge value. Only the sign and validity matter to callers: any prices ≥ 0 give a valid
    Lagrangian bound, exact ones give the tightest (see `sampler.plan.bound`).
    """
    n = int(sink) + 1
    fw, bw = flows < caps, flows > 0
    src = np.concatenate([heads[fw], tails[bw]])
    dst = np.concatenate([tails[fw], heads[bw]])
    w = np.concatenate([costs[fw], -costs[bw]]).astype(np.int64)
    big = np.iinfo(np.int64).max // 4
    dist = np.full(n, big, dtype=np.int64)
    dist[sink] = 0
    for _ in range(max_rounds):
        reach = dist[src] < big
        cand = dist[src[reach]] + w[reach]
        better = cand < dist[dst[reach]]
        if not better.any():
            break
        np.minimum.at(dist, dst[reach][better], cand[better])
    return dist
