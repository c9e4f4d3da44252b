"""Round the optimal flow into whole households: sites first, then consecutive slots.

Households arrive here in queue order (building, then unit and room), so filling slots in that order
keeps a building in consecutive slots: the grid worker calls it down together.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sampler.flow import FlowSolution, GroupArcs

__all__ = ["assign_slots", "split_groups"]

Int = npt.NDArray[np.int64]


def split_groups(size: Int, group: Int, arcs: GroupArcs, flow: FlowSolution) -> Int:
    """Site index of each household (−1 = unplaced), cutting each group's queue by its arc flows.

    ``size`` and ``group`` are in queue order, grouped by group. A household goes to the segment its
    first member falls in, so a segment may take up to one household more or less than its flow.
    """
    pos = flow.arc_flow > 0
    short = flow.unplaced > 0
    seg_group = np.concatenate([arcs.arc_group[pos], np.flatnonzero(short)])
    seg_site = np.concatenate([arcs.arc_site[pos], np.full(int(short.sum()), -1)])
    seg_flow = np.concatenate([flow.arc_flow[pos], flow.unplaced[short]])
    seg_rank = np.concatenate([np.flatnonzero(pos), np.full(int(short.sum()), len(pos))])
    order = np.lexsort((seg_rank, seg_group))
    seg_end = np.cumsum(seg_flow[order])
    seg_site = seg_site[order]
    if not len(size):
        return np.zeros(0, dtype=np.int64)
    if seg_end[-1] != int(size.sum()):
        raise AssertionError("flow does not conserve people")
    start = np.cumsum(size) - size
    return seg_site[np.searchsorted(seg_end, start, side="right")]


def assign_slots(
    size: Int, site: Int, klass: Int, quota: Int, capacity: Int, class_order: list[int]
) -> tuple[Int, Int]:
    """Slot of each household placed at a site, filling each site's slots in time order.

    For each site and slot, each preference class takes households from its queue while their
    start lies within the class's cumulative quota from the flow and they fit the slot's
    remaining capacity. Returns (slot per household, −1 where nothing fitted; load per site-slot).
    """
    n_sites, n_classes, n_slots = quota.shape
    slot = np.full(len(size), -1, dtype=np.int64)
    load = np.zeros((n_sites, n_slots), dtype=np.int64)
    placed = np.flatnonzero(site >= 0)
    if not len(placed):
        return slot, load
    key = site[placed] * n_classes + klass[placed]
    order = placed[np.argsort(key, kind="stable")]
    key_sorted = site[order] * n_classes + klass[order]
    bounds = np.searchsorted(key_sorted, np.arange(n_sites * n_classes + 1), side="left")
    target = np.cumsum(quota, axis=2)
    for s in np.unique(site[placed]):
        blocks: dict[int, Int] = {}
        spill: list[Int] = []
        for c in class_order:
            lo, hi = bounds[s * n_classes + c], bounds[s * n_classes + c + 1]
            members = order[lo:hi]
            if c != 0 and len(members):
                # Beyond the flow's in-period quota, a preference class is called with class 0.
                starts_c = np.cumsum(size[members]) - size[members]
                keep = starts_c < quota[s, c].sum()
                spill.append(members[~keep])
                members = members[keep]
            blocks[c] = members
        blocks[0] = np.sort(np.concatenate([blocks.get(0, np.zeros(0, np.int64)), *spill]))
        classes: list[int] = []
        queues: list[Int] = []
        cums: list[Int] = []
        starts: list[Int] = []
        for c in class_order:
            members = blocks.get(c, np.zeros(0, np.int64))
            if len(members):
                classes.append(c)
                queues.append(members)
                cums.append(np.cumsum(size[members]))
                starts.append(cums[-1] - size[members])
        ptr = [0] * len(classes)
        taken = [0] * len(classes)
        for t in range(n_slots):
            room = int(capacity[s, t])
            if room <= 0:
                continue
            for q, c in enumerate(classes):
                if ptr[q] >= len(queues[q]):
                    continue
                j_quota = int(np.searchsorted(starts[q], target[s, c, t], side="left"))
                j_room = int(np.searchsorted(cums[q], taken[q] + room, side="right"))
                j = min(j_quota, j_room)
                if j > ptr[q]:
                    slot[queues[q][ptr[q] : j]] = t
                    end = int(cums[q][j - 1])
                    room -= end - taken[q]
                    ptr[q], taken[q] = j, end
            load[s, t] = int(capacity[s, t]) - room
    return slot, load
