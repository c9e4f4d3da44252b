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


LOOKAHEAD = 64  # units scanned for one that fits a slot whole
MERGE_SHARE = 0.9  # share of a period's class-0 flow that buildings called with their preferring households may fill


class _Unit:
    """The not yet called households of one call: a building's households at one site.

    A building called together with the households that prefer a period (``period`` > 0) holds
    those households first (``head`` people), so they are called in the building's first slot.
    """

    __slots__ = ("cum", "head", "members", "period", "ptr", "taken")

    def __init__(self, members: Int, sizes: Int, period: int = 0, head: int = 0) -> None:
        self.members = members
        self.cum = np.cumsum(sizes)
        self.ptr = 0
        self.taken = 0
        self.period = period
        self.head = head

    @property
    def remaining(self) -> int:
        return int(self.cum[-1]) - self.taken

    def take(self, want: int, room: int, t: int, slot: Int, size: Int) -> int:
        """Call households in order into slot t while they start inside ``want`` and fit ``room``."""
        rel_cum = self.cum[self.ptr :] - self.taken
        rel_start = rel_cum - size[self.members[self.ptr :]]
        j = min(int(np.searchsorted(rel_start, want, side="left")), int(np.searchsorted(rel_cum, room, side="right")))
        if j == 0:
            return 0
        slot[self.members[self.ptr : self.ptr + j]] = t
        people = int(rel_cum[j - 1])
        self.ptr += j
        self.taken += people
        return people

    def take_all(self, t: int, slot: Int) -> int:
        slot[self.members[self.ptr :]] = t
        people = self.remaining
        self.ptr, self.taken = len(self.members), int(self.cum[-1])
        return people


def _units(members: Int, size: Int, building: Int) -> list[_Unit]:
    """Split a queue into runs of one building."""
    if not len(members):
        return []
    b = building[members]
    cuts = np.flatnonzero(b[1:] != b[:-1]) + 1
    return [_Unit(m, size[m]) for m in np.split(members, cuts)]


def _fill_whole_first(units: list[_Unit], want: int, room: int, t: int, slot: Int, size: Int) -> int:
    """Call units of one list into slot t (whole units first, else split the first); people taken."""
    taken = 0
    while units and want > 0 and room > 0:
        limit = min(want, room)
        whole = None if units[0].ptr > 0 else next(
            (i for i, u in enumerate(units[:LOOKAHEAD]) if u.remaining <= limit), None)
        if whole is not None:
            got = units.pop(whole).take_all(t, slot)
        else:
            got = units[0].take(want, room, t, slot, size)
            if units[0].ptr < len(units[0].members):
                return taken + got  # the rest of this unit goes to the next slot
            units.pop(0)
        taken, want, room = taken + got, want - got, room - got
    return taken


class _SiteQueues:
    """The calls of one site: buildings (alone or with their preferring households) and the
    preferring households called on their own, filled slot by slot."""

    def __init__(self, neutral: list[_Unit], merged: dict[int, list[_Unit]], alone: dict[int, list[_Unit]]) -> None:
        self.neutral = neutral
        self.merged = merged
        self.alone = alone
        self.current: _Unit | None = None

    def fill_calls(self, want: int, room: int, t: int, p: int, slot: Int, size: Int) -> int:
        """Fill slot t (period p) with building calls up to ``want`` people and ``room``: a call in
        progress is finished first; then the first call (buildings with their period-p households
        before the others) that fits whole; else the first call is split, households in order."""
        taken = 0
        mine = self.merged.get(p, []) if p else []
        while want > 0 and room > 0:
            if self.current is not None:
                u = self.current
                got = u.take(want, room, t, slot, size)
                taken, want, room = taken + got, want - got, room - got
                if u.ptr < len(u.members):
                    break
                self.current = None
                continue
            limit = min(want, room)
            whole = next((i for i, u in enumerate(mine[:LOOKAHEAD]) if u.remaining <= limit), None)
            if whole is not None:
                got = mine.pop(whole).take_all(t, slot)
                taken, want, room = taken + got, want - got, room - got
                continue
            whole = next((i for i, u in enumerate(self.neutral[:LOOKAHEAD]) if u.remaining <= limit), None)
            if whole is not None:
                got = self.neutral.pop(whole).take_all(t, slot)
                taken, want, room = taken + got, want - got, room - got
                continue
            # Split a call: a building with period-p households only if those fit the room now.
            if mine and mine[0].head <= room:
                u = mine.pop(0)
            elif self.neutral:
                u = self.neutral.pop(0)
            else:
                break
            got = u.take(want, room, t, slot, size)
            taken, want, room = taken + got, want - got, room - got
            if u.ptr < len(u.members):
                self.current = u
            break
        return taken

    def release(self, p: int) -> None:
        """Period p is over: its buildings not yet called go back to the plain calls, and their
        preferring households to the calls of their own (they missed their period)."""
        for u in self.merged.pop(p, []):
            head = int(np.searchsorted(u.cum, u.head, side="right"))
            if head:
                self.alone.setdefault(p, []).append(_Unit(u.members[:head], np.diff(np.r_[0, u.cum[:head]])))
            if head < len(u.members):
                self.neutral.insert(0, _Unit(u.members[head:], np.diff(u.cum[head - 1 :]) if head else
                                             np.diff(np.r_[0, u.cum])))


def _site_queues(
    blocks: dict[int, Int], size: Int, building: Int, quota_s: Int, period: Int, open_s: npt.NDArray[np.bool_],
) -> _SiteQueues:
    """Build one site's calls: each building's class-0 households, joined by its households of one
    preferred period the class-0 flow reaches (the period with most of them), within a budget per
    period so that those buildings can all be called inside it."""
    n_classes = quota_s.shape[0]
    reach_budget: dict[int, float] = {}
    for c in range(1, n_classes):
        in_c = (period == c) & open_s
        if quota_s[0, in_c].sum() > 0:
            reach_budget[c] = MERGE_SHARE * float(quota_s[0, in_c].sum() + quota_s[c].sum())
    alone: dict[int, list[_Unit]] = {}
    pref_of: dict[int, list[tuple[int, Int]]] = {}
    for c in range(1, n_classes):
        members = blocks.get(c)
        if members is None or not len(members):
            continue
        b = building[members]
        cuts = np.flatnonzero(b[1:] != b[:-1]) + 1
        for m in np.split(members, cuts):
            pref_of.setdefault(int(building[m[0]]), []).append((c, m))
    neutral: list[_Unit] = []
    merged: dict[int, list[_Unit]] = {}
    used = dict.fromkeys(reach_budget, 0.0)
    zero = blocks.get(0, np.zeros(0, dtype=np.int64))
    joined: set[tuple[int, int]] = set()
    if len(zero):
        b = building[zero]
        cuts = np.flatnonzero(b[1:] != b[:-1]) + 1
        for m in np.split(zero, cuts):
            bid = int(building[m[0]])
            opts = [(int(size[pm].sum()), c, pm) for c, pm in pref_of.get(bid, ()) if c in reach_budget]
            best = max(opts, key=lambda o: (o[0], -o[1]), default=None)
            if best is not None:
                people, c, pm = best
                total = people + int(size[m].sum())
                if used[c] + total <= reach_budget[c]:
                    used[c] += total
                    joined.add((c, bid))
                    members = np.concatenate([pm, m])
                    merged.setdefault(c, []).append(_Unit(members, size[members], period=c, head=people))
                    continue
            neutral.append(_Unit(m, size[m]))
    for bid, lst in pref_of.items():
        for c, pm in lst:
            if (c, bid) not in joined:
                alone.setdefault(c, []).append(_Unit(pm, size[pm]))
    # Keep queue order within each list of alone units.
    for units in alone.values():
        units.sort(key=lambda u: int(u.members[0]))
    return _SiteQueues(neutral, merged, alone)


def assign_slots(
    size: Int, site: Int, klass: Int, building: Int, quota: Int, capacity: Int, class_order: list[int],
    period: Int | None = None,
) -> tuple[Int, Int]:
    """Slot of each household placed at a site, filling each site's slots in time order.

    Each slot takes as many people as the flow put there in total (all classes), so the time-of-day
    cost follows the flow. Households preferring a period are called by the flow's quota of their
    class, except that a building called inside a period its preferring households want takes them
    along (swapping them with class-0 people of the same slots costs nothing: inside the period both
    pay the same slot costs). Buildings are called whole when they fit, in consecutive slots
    otherwise (see `_SiteQueues.fill_calls`). ``class_order`` sets the order in which the classes'
    own calls are served in a slot. Returns (slot per household, −1 where nothing fitted; load per
    site-slot).
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
    total_target = target.sum(axis=1)
    last_of = {p: int(np.flatnonzero(period == p).max()) for p in np.unique(period).tolist() if p}
    own = [c for c in class_order if c != 0]
    for s in np.unique(site[placed]).tolist():
        blocks: dict[int, Int] = {}
        spill: list[Int] = []
        for c in range(n_classes):
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
        open_s = capacity[s] > 0
        sq = _site_queues(blocks, size, building, quota[s], period, open_s)
        taken_c = [0] * n_classes
        taken = 0
        for t in range(n_slots):
            room = int(capacity[s, t])
            if room <= 0:
                continue
            p = int(period[t])
            for c in own:  # preferring households called on their own, by their class's quota
                units = sq.alone.get(c)
                if units:
                    got = _fill_whole_first(units, int(target[s, c, t]) - taken_c[c], room, t, slot, size)
                    taken_c[c] += got
                    taken += got
                    room -= got
            got = sq.fill_calls(int(total_target[s, t]) - taken, room, t, p, slot, size)
            taken += got
            room -= got
            if p and last_of.get(p) == t and sq.merged.get(p):
                sq.release(p)
            load[s, t] = int(capacity[s, t]) - room
    return slot, load
