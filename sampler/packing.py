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


LOOKAHEAD = 64  # buildings scanned for one that fits a slot whole


class _Chunk:
    """The not yet called households of one building in one queue."""

    __slots__ = ("cum", "members", "ptr", "taken")

    def __init__(self, members: Int, sizes: Int) -> None:
        self.members = members
        self.cum = np.cumsum(sizes)
        self.ptr = 0
        self.taken = 0

    @property
    def remaining(self) -> int:
        return int(self.cum[-1]) - self.taken


def _chunks(members: Int, size: Int, building: Int) -> list[_Chunk]:
    """Split a queue into runs of one building."""
    if not len(members):
        return []
    b = building[members]
    cuts = np.flatnonzero(b[1:] != b[:-1]) + 1
    return [_Chunk(m, size[m]) for m in np.split(members, cuts)]


def _fill(chunks: list[_Chunk], want: int, room: int, t: int, slot: Int, size: Int) -> tuple[int, list[_Chunk]]:
    """Call households of this queue into slot t; returns people taken and the buildings called.

    A building already being called is finished first. Then a building that fits the slot whole
    (within both the flow's quota and the room) is called whole, the first such in queue order;
    otherwise the first building is split, households in order, while they start inside the quota
    and fit the room. So a building straddles slots only when it must, and then consecutive ones.
    """
    taken = 0
    called: list[_Chunk] = []
    while chunks and want > 0 and room > 0:
        limit = min(want, room)
        # A building already being called is finished first; then whole buildings; then a split.
        started = chunks[0].ptr > 0
        whole = None if started else next(
            (i for i, ch in enumerate(chunks[:LOOKAHEAD]) if ch.remaining <= limit), None
        )
        if whole is not None:
            ch = chunks.pop(whole)
            slot[ch.members[ch.ptr :]] = t
            people = ch.remaining
            ch.ptr, ch.taken = len(ch.members), int(ch.cum[-1])
            taken, want, room = taken + people, want - people, room - people
            called.append(ch)
            continue
        ch = chunks[0]
        rel_cum = ch.cum[ch.ptr :] - ch.taken
        rel_start = rel_cum - size[ch.members[ch.ptr :]]
        j = min(int(np.searchsorted(rel_start, want, side="left")), int(np.searchsorted(rel_cum, room, side="right")))
        if j == 0:
            break
        slot[ch.members[ch.ptr : ch.ptr + j]] = t
        people = int(rel_cum[j - 1])
        ch.ptr += j
        ch.taken += people
        taken += people
        called.append(ch)
        if ch.ptr >= len(ch.members):
            chunks.pop(0)
            want, room = want - people, room - people
            continue
        break
    return taken, called


def _schedule_preferring_buildings(
    chunks: list[_Chunk], by_building: dict[tuple[int, int], tuple[int, _Chunk]], target0: Int,
    capacity: Int, period: Int, building: Int,
) -> None:
    """Reorder the class-0 queue so a building with households preferring a period is called when
    that period starts (by the flow's class-0 quota): then its preferring households ride along.

    Any order of class-0 buildings costs the same (same people per slot); only the call times move.
    """
    first_slot: dict[int, int] = {}
    for u in np.flatnonzero(capacity > 0).tolist():
        first_slot.setdefault(int(period[u]), u)
    keys: list[float] = []
    before = 0
    prefs_of: dict[int, int] = {}
    for klass, b in by_building:
        prefs_of.setdefault(b, klass)
    for ch in chunks:
        pref = prefs_of.get(int(building[ch.members[0]]))
        if pref is not None and pref in first_slot:
            u = first_slot[pref]
            keys.append(float(target0[u - 1]) - 0.5 if u > 0 else -0.5)
        else:
            keys.append(float(before))
        before += ch.remaining
    order = sorted(range(len(chunks)), key=lambda i: (keys[i], i))
    chunks[:] = [chunks[i] for i in order]


def assign_slots(
    size: Int, site: Int, klass: Int, building: Int, quota: Int, capacity: Int, class_order: list[int],
    period: Int | None = None,
) -> tuple[Int, Int]:
    """Slot of each household placed at a site, filling each site's slots in time order.

    For each site and slot, each preference class calls households from its queue up to its
    cumulative quota from the flow and the slot's remaining capacity, whole buildings first (see
    `_fill`). When a building is called in a slot of some period (``period``: code per slot), its
    households preferring that period come along if there is room, so they share the call. Returns (slot per household, −1 where nothing fitted; load per site-slot).
    """
    n_sites, n_classes, n_slots = quota.shape
    slot = np.full(len(size), -1, dtype=np.int64)
    load = np.zeros((n_sites, n_slots), dtype=np.int64)
    placed = np.flatnonzero(site >= 0)
    if not len(placed):
        return slot, load
    period = np.zeros(n_slots, dtype=np.int64) if period is None else period
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
        queues = [(c, _chunks(blocks[c], size, building)) for c in class_order if len(blocks.get(c, ()))]
        by_building = {(c, int(building[ch.members[0]])): (q, ch) for q, (c, chunks) in enumerate(queues)
                       if c != 0 for ch in chunks}
        if queues and queues[0][0] == 0 and by_building:
            _schedule_preferring_buildings(queues[0][1], by_building, target[s, 0], capacity[s], period, building)
        taken = [0] * len(queues)
        for t in range(n_slots):
            room = int(capacity[s, t])
            if room <= 0:
                continue
            for q, (c, chunks) in enumerate(queues):
                if not chunks:
                    continue
                avail = room
                if c == 0:  # keep the room the flow gave preference classes in this slot
                    avail -= sum(max(0, int(target[s, c2, t]) - taken[q2])
                                 for q2, (c2, ch2) in enumerate(queues) if c2 != 0 and ch2)
                got, called = _fill(chunks, int(target[s, c, t]) - taken[q], avail, t, slot, size)
                taken[q] += got
                room -= got
                if c != 0 or not period[t]:
                    continue
                for ch in called:  # households of this building that prefer this period join it
                    found = by_building.get((int(period[t]), int(building[ch.members[0]])))
                    if found is None:
                        continue
                    q2, pref = found
                    if pref.ptr == 0 and pref.remaining <= room and pref in queues[q2][1]:
                        queues[q2][1].remove(pref)
                        slot[pref.members] = t
                        room -= pref.remaining
                        taken[q2] += pref.remaining
            load[s, t] = int(capacity[s, t]) - room
    return slot, load

