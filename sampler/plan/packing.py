"""Round the optimal flow into whole households: sites first, then consecutive slots.

Households arrive here in queue order (building, then unit and room), so filling slots in that order
keeps a building in consecutive slots: the grid worker calls it down together.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from sampler.model import IntArray
from sampler.plan.flow import COST_SCALE, FlowSolution, GroupArcs
from sampler.plan.problem import Problem

__all__ = ["assign_slots", "split_groups", "tighten_cells"]



def split_groups(size: IntArray, group: IntArray, arcs: GroupArcs, flow: FlowSolution) -> IntArray:
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
DEADLINE = 3  # slots before a period's end from which its buildings are called first, split if need be
MERGE_SHARE = 0.9  # share of a period's class-0 flow that buildings called with their preferring households may fill


class _Unit:
    """The not yet called households of one call: a building's households at one site.

    A building called together with the households that prefer a period (``period`` > 0) holds
    those households first (``head`` people), so they are called in the building's first slot.
    Cumulative sizes are computed only if the call is ever split.
    """

    __slots__ = ("_cum", "head", "members", "period", "ptr", "remaining", "taken")

    def __init__(self, members: IntArray, total: int, period: int = 0, head: int = 0) -> None:
        self.members = members
        self._cum: list[int] | None = None
        self.ptr = 0
        self.taken = 0
        self.period = period
        self.head = head
        self.remaining = total

    def cum(self, size: IntArray) -> list[int]:
        """People before each household and in all: [0, s0, s0 + s1, …] (computed once)."""
        if self._cum is None:
            self._cum = [0, *np.cumsum(size[self.members]).tolist()]
        return self._cum

    def take(self, want: int, room: int, t: int, slot: IntArray, size: IntArray) -> int:
        """Call households in order into slot t while they start inside ``want`` and fit ``room``."""
        c = self.cum(size)
        n, ptr, taken = len(self.members), self.ptr, self.taken
        j = min(bisect_left(c, want + taken, ptr, n) - ptr, bisect_right(c, room + taken, ptr + 1, n + 1) - ptr - 1)
        if j <= 0:
            return 0
        slot[self.members[ptr : ptr + j]] = t
        people = c[ptr + j] - taken
        self.ptr += j
        self.taken += people
        self.remaining -= people
        return people

    def take_all(self, t: int, slot: IntArray) -> int:
        slot[self.members[self.ptr :]] = t
        people = self.remaining
        self.ptr, self.taken, self.remaining = len(self.members), self.taken + people, 0
        return people


def _runs(members: IntArray, size: IntArray, building: IntArray) -> list[tuple[int, IntArray, int]]:
    """Split a queue into runs of one building: (building, members, people) per run."""
    if not len(members):
        return []
    b = building[members]
    starts = np.concatenate([[0], np.flatnonzero(b[1:] != b[:-1]) + 1])
    ends = np.concatenate([starts[1:], [len(members)]])
    cum = np.concatenate([[0], np.cumsum(size[members])])
    people = (cum[ends] - cum[starts]).tolist()
    return [(bid, members[a:e], n) for bid, a, e, n in
            zip(b[starts].tolist(), starts.tolist(), ends.tolist(), people, strict=True)]


def _fill_whole_first(units: list[_Unit], want: int, room: int, t: int, slot: IntArray, size: IntArray) -> int:
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


def _subset_sum(sizes: list[int], limit: int) -> list[int]:
    """Indices of a subset of ``sizes`` with the largest sum ≤ ``limit``, preferring earlier items
    (bitset dynamic programme; sizes are people per building, limit people per slot)."""
    mask = (1 << (limit + 1)) - 1
    reach = [1]
    r = 1
    for a in sizes:
        r = (r | (r << a)) & mask
        reach.append(r)
    total = r.bit_length() - 1
    chosen = []
    for i in range(len(sizes) - 1, -1, -1):
        if not (reach[i] >> total) & 1:  # not reachable without item i: take it
            chosen.append(i)
            total -= sizes[i]
    return chosen


class _SiteQueues:
    """The calls of one site: buildings (alone or with their preferring households) and the
    preferring households called on their own, filled slot by slot."""

    def __init__(self, neutral: list[_Unit], merged: dict[int, list[_Unit]], alone: dict[int, list[_Unit]],
                 full: int, hold: float, spare: int) -> None:
        self.neutral = neutral
        self.merged = merged
        self.alone = alone
        self.current: _Unit | None = None
        self.full = full  # people per slot at this site
        self.hold = hold  # person-slots of lateness worth one extra call (cohesion ÷ lateness)
        self.spare = spare  # day capacity the flow left free at this site: room to hold people back
        self.last = 0  # last slot the flow fills at this site
        self.residue = False  # whether large buildings join the subset sum by their last slot's share

    def _fill_plain(self, units: list[_Unit], want: int, room: int, t: int, slot: IntArray, size: IntArray) -> int:
        """Fill the rest of slot t with buildings called on their own, without splitting one if
        possible: whole buildings whose sizes add up exactly to the room (subset sum over the next
        LOOKAHEAD, earlier ones preferred). A building larger than a slot starts only in an empty
        slot or where its last slot's share fits the room. What is left over is held back for a
        later slot when that costs less lateness than an extra call would cost cohesion;
        otherwise the first remaining building is split into it."""
        limit = min(want, room)
        if limit <= 0 or not units:
            return 0
        if not self.residue:
            return self._fill_plain_first(units, want, room, t, slot, size)
        head = units[:LOOKAHEAD]
        # A building larger than the room costs no extra call if its share in its last slot fits:
        # it weighs that share (its people mod a slot, or a whole slot) in the subset sum; small
        # buildings weigh their people. Small ones go in first, then one large one takes the rest.
        full = self.full
        pick: list[int] = []
        weight: list[int] = []
        for i, u in enumerate(head):
            if u.remaining <= limit:
                pick.append(i)
                weight.append(u.remaining)
            elif limit == room and (w := (u.remaining - 1) % full + 1) <= room:
                pick.append(i)
                weight.append(w)
        got = 0
        big: _Unit | None = None
        if pick:
            chosen = sorted(pick[i] for i in _subset_sum(weight, limit))
            large = [i for i in chosen if head[i].remaining > limit]
            first_large = large[0] if large else None
            for i in sorted(chosen, reverse=True):
                if i == first_large:
                    big = units.pop(i)
                elif i not in large:
                    got += units.pop(i).take_all(t, slot)
        if big is not None:
            return got + self._start(big, want - got, room - got, t, slot, size)
        rest = limit - got
        if rest <= 0 or not units:
            return got
        return got + self._hold_or_split(units, want - got, room - got, rest, t, slot, size)

    def _fill_plain_first(self, units: list[_Unit], want: int, room: int, t: int, slot: IntArray,
                          size: IntArray) -> int:
        """`_fill_plain` without the large buildings in the subset sum: a large building starts
        at once in an empty slot; after the small ones, the first whose last slot's share fits."""
        limit = min(want, room)
        if units[0].remaining > limit and room == self.full:
            return self._start(units.pop(0), want, room, t, slot, size)
        head = units[:LOOKAHEAD]
        pick = [i for i, u in enumerate(head) if u.remaining <= limit]
        got = 0
        if pick:
            chosen = _subset_sum([head[i].remaining for i in pick], limit)
            take = sorted((pick[i] for i in chosen), reverse=True)
            for i in take:
                got += units.pop(i).take_all(t, slot)
        rest = limit - got
        if rest <= 0 or not units:
            return got
        # A big building whose share in its last slot fits the rest costs no extra call here.
        for i, u in enumerate(units[:LOOKAHEAD]):
            if u.remaining > self.full and 0 < u.remaining % self.full <= rest:
                return got + self._start(units.pop(i), want - got, room - got, t, slot, size)
        return got + self._hold_or_split(units, want - got, room - got, rest, t, slot, size)

    def _hold_or_split(self, units: list[_Unit], want: int, room: int, rest: int, t: int, slot: IntArray,
                       size: IntArray) -> int:
        """Hold ``rest`` people of room back when that costs less lateness than an extra call,
        else split the first building into it."""
        if rest * max(1, self.last - t) < self.hold and rest <= self.spare:
            self.spare -= rest
            return 0
        return self._start(units.pop(0), want, room, t, slot, size)

    def _start(self, u: _Unit, want: int, room: int, t: int, slot: IntArray, size: IntArray) -> int:
        got = u.take(want, room, t, slot, size)
        if u.ptr < len(u.members):
            self.current = u
        return got

    def fill_calls(self, want: int, room: int, t: int, p: int, end: int, slot: IntArray, size: IntArray) -> int:
        """Fill slot t (period p, which ends at slot ``end``) with building calls up to ``want``
        people and ``room``: a call in progress is finished first; then whole buildings chosen by
        `_fill_plain`, those with period-p households first; in the last DEADLINE slots of the
        period those go first whole or split, so that all are called inside it."""
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
            if mine and t + DEADLINE < end:
                # Buildings with period-p households first in the subset sum, the others after.
                pool = mine + self.neutral
                got = self._fill_plain(pool, want, room, t, slot, size)
                mine[:] = [u for u in pool if u.period == p]
                self.neutral[:] = [u for u in pool if u.period != p]
                taken += got
                break
            limit = min(want, room)
            whole = next((i for i, u in enumerate(mine[:LOOKAHEAD]) if u.remaining <= limit), None)
            if whole is not None:
                got = mine.pop(whole).take_all(t, slot)
                taken, want, room = taken + got, want - got, room - got
                continue
            # Near the period's end, a building with period-p households goes first, split if need
            # be (only if those households fit the room now), so that all are called inside it.
            if mine and mine[0].head <= room:
                u = mine.pop(0)
                got = u.take(want, room, t, slot, size)
                taken, want, room = taken + got, want - got, room - got
                if u.ptr < len(u.members):
                    self.current = u
                    break
                continue
            got = self._fill_plain(self.neutral, want, room, t, slot, size)
            taken += got
            break
        return taken

    def empty(self) -> bool:
        """Nothing left to call at this site."""
        return (self.current is None and not self.neutral and not any(self.merged.values())
                and not any(self.alone.values()))

    def release(self, p: int, size: IntArray) -> None:
        """Period p is over: its buildings not yet called go back to the plain calls, and their
        preferring households to the calls of their own (they missed their period)."""
        for u in self.merged.pop(p, []):
            cum = u.cum(size)[1:]
            head = bisect_right(cum, u.head)
            if head:
                self.alone.setdefault(p, []).append(_Unit(u.members[:head], cum[head - 1]))
            if head < len(u.members):
                self.neutral.insert(0, _Unit(u.members[head:], cum[-1] - (cum[head - 1] if head else 0)))


def _site_queues(
    blocks: dict[int, IntArray], size: IntArray, building: IntArray, quota_s: IntArray, period: IntArray, cap_s: IntArray,
    night: npt.NDArray[np.bool_], hold: float,
) -> _SiteQueues:
    """Build one site's calls: each building's class-0 households, joined by its households of one
    preferred period the class-0 flow reaches (the period with most of them), within a budget per
    period so that those buildings can all be called inside it."""
    n_classes = quota_s.shape[0]
    open_s = cap_s > 0
    reach_budget: dict[int, float] = {}
    for c in range(1, n_classes):
        in_c = (period == c) & open_s
        if quota_s[0, in_c].sum() > 0:
            reach_budget[c] = MERGE_SHARE * float(quota_s[0, in_c].sum() + quota_s[c].sum())
    alone: dict[int, list[_Unit]] = {}
    pref_of: dict[int, list[tuple[int, IntArray, int]]] = {}
    for c in range(1, n_classes):
        members = blocks.get(c)
        if members is None or not len(members):
            continue
        for bid, m, n in _runs(members, size, building):
            pref_of.setdefault(bid, []).append((c, m, n))
    neutral: list[_Unit] = []
    merged: dict[int, list[_Unit]] = {}
    used = dict.fromkeys(reach_budget, 0.0)
    zero = blocks.get(0, np.zeros(0, dtype=np.int64))
    joined: set[tuple[int, int]] = set()
    for bid, m, n in _runs(zero, size, building):
        prefs = pref_of.get(bid)
        if prefs:
            opts = [(people, c, pm) for c, pm, people in prefs if c in reach_budget]
            best = max(opts, key=lambda o: (o[0], -o[1]), default=None)
            if best is not None:
                people, c, pm = best
                total = people + n
                if used[c] + total <= reach_budget[c]:
                    used[c] += total
                    joined.add((c, bid))
                    merged.setdefault(c, []).append(_Unit(np.concatenate([pm, m]), total, period=c, head=people))
                    continue
        neutral.append(_Unit(m, n))
    for bid, lst in pref_of.items():
        for c, pm, people in lst:
            if (c, bid) not in joined:
                alone.setdefault(c, []).append(_Unit(pm, people))
    # Keep queue order within each list of alone units.
    for units in alone.values():
        units.sort(key=lambda u: int(u.members[0]))
    day = open_s & ~night
    spare = int((cap_s[day] - quota_s[:, day].sum(axis=0)).clip(min=0).sum())
    sq = _SiteQueues(neutral, merged, alone, int(cap_s.max(initial=0)), hold, spare)
    zero_slots = np.flatnonzero(quota_s[0] > 0)
    sq.last = int(zero_slots[-1]) if len(zero_slots) else 0
    return sq


def _fill_site(sq: _SiteQueues, s: int, slot: IntArray, size: IntArray, capacity: IntArray, period: IntArray,
               target: npt.NDArray[np.int64], total_target: npt.NDArray[np.int64], last_of: dict[int, int]) -> list[int]:
    """Fill site s's slots in time order from its calls ``sq`` (writing ``slot``); people per slot."""
    n_classes, n_slots = target.shape[1], target.shape[2]
    own = range(1, n_classes)
    taken_c = [0] * n_classes
    taken = 0
    cap_s = capacity[s].tolist()
    target_s = target[s].tolist()
    total_s = total_target[s].tolist()
    row = [0] * n_slots
    for t in range(n_slots):
        room = cap_s[t]
        if room <= 0:
            continue
        if sq.empty():
            break
        p = int(period[t])
        for c in own:  # preferring households called on their own, by their class's quota
            units = sq.alone.get(c)
            if units:
                got = _fill_whole_first(units, target_s[c][t] - taken_c[c], room, t, slot, size)
                taken_c[c] += got
                taken += got
                room -= got
        got = sq.fill_calls(total_s[t] - taken, room, t, p, last_of.get(p, t), slot, size)
        taken += got
        room -= got
        if p and last_of.get(p) == t and sq.merged.get(p):
            sq.release(p, size)
        row[t] = cap_s[t] - room
    return row


def assign_slots(
    problem: Problem, queue: IntArray, site: IntArray, flow: FlowSolution, hold: float = 0.0, cohesion: int = 0,
) -> tuple[IntArray, IntArray]:
    """Slot of each household of ``queue`` placed at a site (``site``, in queue order), filling each
    site's slots of ``problem.grid`` in time order by the quotas of ``flow``.

    Each slot takes as many people as the flow put there in total (all classes), so the time-of-day
    cost follows the flow. Households preferring a period are called by the flow's quota of their
    class, except that a building called inside a period its preferring households want takes them
    along (swapping them with class-0 people of the same slots costs nothing: inside the period both
    pay the same slot costs). Buildings are called whole when they fit, in consecutive slots
    otherwise (see `_SiteQueues.fill_calls`); a slot may be left short by a few people (within the
    day capacity the flow left free, ``night`` slots excluded) when holding them back costs less
    lateness than splitting a building would cost cohesion: ``hold`` is that exchange rate in
    person-slots per extra call (0 never holds back). The classes' own calls are served in class
    order. With ``cohesion`` > 0 (integer cost of one extra call), a site whose fill spreads a
    building over more cells than its people need is filled a second way — large buildings chosen
    by the share of their last slot (`_SiteQueues._fill_plain`) — and the cheaper fill of the two
    (slot costs, calls, people left over) is kept. Returns (slot per household of ``queue``, −1
    where nothing fitted; load per site-slot).
    """
    hh, grid, quota = problem.registry.households, problem.grid, flow.quota
    size, klass, building = hh.size[queue].astype(np.int64), hh.preferred[queue], hh.building[queue]
    capacity, period, night = grid.capacity, grid.period, grid.night
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
    total_target = target.sum(axis=1)
    last_of = {p: int(np.flatnonzero(period == p).max()) for p in np.unique(period).tolist() if p}
    for s in np.unique(site[placed]).tolist():
        blocks: dict[int, IntArray] = {}
        spill: list[IntArray] = []
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
        sq = _site_queues(blocks, size, building, quota[s], period, capacity[s], night, hold)
        row = _fill_site(sq, s, slot, size, capacity, period, target, total_target, last_of)
        if cohesion > 0:
            here = order[bounds[s * n_classes] : bounds[(s + 1) * n_classes]]
            first = _site_cost(problem, here, slot, size, klass, building, sq.full, cohesion)
            if first[1]:  # some building has extra cells at this site: try the other fill
                kept = slot[here]
                slot[here] = -1
                sq = _site_queues(blocks, size, building, quota[s], period, capacity[s], night, hold)
                sq.residue = True
                other = _fill_site(sq, s, slot, size, capacity, period, target, total_target, last_of)
                if _site_cost(problem, here, slot, size, klass, building, sq.full, cohesion)[0] < first[0]:
                    row = other
                else:
                    slot[here] = kept
        load[s] = row
    return slot, load


def _site_cost(problem: Problem, here: IntArray, slot: IntArray, size: IntArray, klass: IntArray,
               building: IntArray, full: int, cohesion: int) -> tuple[int, int]:
    """(Slot costs + ``cohesion`` per call + unplaced cost of one site's households ``here``, calls
    beyond each building's fewest at this site's ``full`` people per slot)."""
    t = slot[here]
    ok = t >= 0
    h, t = here[ok], t[ok]
    cost = int((problem.slot_cost[klass[h], t] * size[h]).sum())
    cost += int(size[here[~ok]].sum()) * problem.unplaced_cost
    b_of = building[h]
    calls = len(np.unique(b_of * problem.grid.n + t))
    b, inv = np.unique(b_of, return_inverse=True)
    fewest = int(np.ceil(np.bincount(inv, weights=size[h]) / max(full, 1)).sum()) if len(b) else 0
    return cost + cohesion * calls, calls - fewest


class _Tightener:
    """State of `tighten_cells`: each household's current cell, cell loads, members by cell and by
    building (Python lists: the moves touch a few households at a time, numpy scalars would be slow).

    Cells are numbered site × slots + slot. Members of a cell are the households first placed there
    and those moved in since, filtered by each household's current cell (read lazily, per cell)."""

    def __init__(self, problem: Problem, at: IntArray, cell: IntArray, need: IntArray) -> None:
        hh, grid = problem.registry.households, problem.grid
        n_cells = grid.capacity.size
        self.n_slots = grid.n
        self.at = at
        self.slot_cost: list[list[int]] = problem.slot_cost.tolist()
        self.cap: list[int] = grid.capacity.ravel().tolist()
        self.u = round(problem.scenario.planner.cohesion_penalty * COST_SCALE)
        self.need: list[int] = need.tolist()
        # Households are numbered by their position in ``at`` from here on.
        self.size: list[int] = hh.size[at].astype(np.int64).tolist()
        self.klass: list[int] = hh.preferred[at].tolist()
        b_at = hh.building[at]
        self.building: list[int] = b_at.tolist()
        self.cur: list[int] = cell.tolist()
        order = np.argsort(cell, kind="stable")
        self._by_cell: list[int] = order.tolist()
        self._cell_bounds: list[int] = np.searchsorted(cell[order], np.arange(n_cells + 1)).tolist()
        order = np.argsort(b_at, kind="stable")
        self._by_building: list[int] = order.tolist()
        self._b_bounds = np.searchsorted(b_at[order], np.arange(len(need) + 1))
        self._added: dict[int, list[int]] = {}
        self._cells_cache: dict[int, dict[int, list[int]]] = {}
        self._people_cache: dict[int, dict[int, int]] = {}
        self._walk_cache: dict[int, dict[int, int]] = {}
        self.problem = problem
        self.load: list[int] = np.bincount(cell, weights=hh.size[at], minlength=n_cells).astype(np.int64).tolist()

    def members(self, c: int) -> list[int]:
        """Households now in cell c, in order."""
        cur = self.cur
        base = self._by_cell[self._cell_bounds[c] : self._cell_bounds[c + 1]]
        added = self._added.get(c)
        if added is None:
            return [h for h in base if cur[h] == c]
        return sorted({h for h in base + added if cur[h] == c})

    def cells_of(self, b: int) -> dict[int, list[int]]:
        """Households of building b by the cell they are now in (cells in order; do not modify)."""
        out = self._cells_cache.get(b)
        if out is None:
            found: dict[int, list[int]] = {}
            cur = self.cur
            for h in self._by_building[int(self._b_bounds[b]) : int(self._b_bounds[b + 1])]:
                found.setdefault(cur[h], []).append(h)
            out = self._cells_cache[b] = dict(sorted(found.items()))
        return out

    def walk_of(self, b: int) -> dict[int, int]:
        """Integer walk cost per person of building b to each of its candidate sites."""
        out = self._walk_cache.get(b)
        if out is None:
            arcs = self.problem.arcs_of(b)
            out = self._walk_cache[b] = dict(zip(self.problem.cand.site[arcs.start : arcs.stop].tolist(),
                                                 self.problem.arc_cost[arcs.start : arcs.stop].tolist(), strict=True))
        return out

    def people_of(self, b: int) -> dict[int, int]:
        """People of building b per cell it uses now."""
        out = self._people_cache.get(b)
        if out is None:
            out = self._people_cache[b] = {c: self.people(hs) for c, hs in self.cells_of(b).items()}
        return out

    def cost(self, hs: list[int], c: int) -> int:
        """Slot cost of households ``hs`` in cell c (their walk does not change: same site)."""
        t, sc, kl, sz = c % self.n_slots, self.slot_cost, self.klass, self.size
        return sum(sc[kl[h]][t] * sz[h] for h in hs)

    def by_class(self, hs: list[int]) -> list[tuple[int, int]]:
        """(class, people) of households ``hs``: their slot cost in one cell is Σ people × cost."""
        out: dict[int, int] = {}
        kl, sz = self.klass, self.size
        for h in hs:
            out[kl[h]] = out.get(kl[h], 0) + sz[h]
        return sorted(out.items())

    def people(self, hs: list[int]) -> int:
        sz = self.size
        return sum(sz[h] for h in hs)

    def move(self, hs: list[int], to: int) -> None:
        cur, load, sz = self.cur, self.load, self.size
        for b in {self.building[h] for h in hs}:
            self._cells_cache.pop(b, None)
            self._people_cache.pop(b, None)
        for h in hs:
            load[cur[h]] -= sz[h]
            load[to] += sz[h]
            cur[h] = to
        self._added.setdefault(to, []).extend(hs)

    def improve(self, b: int) -> tuple[int, int] | None:
        """Make the best objective-lowering move that empties one of b's cells: the cells (x, y)
        it changed, or None if there is none."""
        mine = self.cells_of(b)
        if len(mine) <= self.need[b]:
            return None
        best: tuple[int, int, int, list[int]] | None = None
        people = self.people_of(b)
        sc, n = self.slot_cost, self.n_slots
        # The cells with fewest of b's people first: those are its stray calls.
        used = set(mine)
        runs = {s: _call_runs(used, s, self.n_slots) for s in {c // self.n_slots for c in used}}
        for x in sorted(mine, key=lambda c: (people[c], c)):
            s = x // self.n_slots
            if _call_runs(used - {x}, s, self.n_slots) > runs[s]:
                continue  # x inside one of b's runs at its site: that run would be cut in two
            classes = self.by_class(mine[x])
            t_x = x % n
            here = sum(p * sc[k][t_x] for k, p in classes)
            for y in mine:
                if y == x:
                    continue
                if y // n != s:  # another site: only into room there, paying the walk difference
                    walk = self.walk_of(b)
                    s_y = y // n
                    if people[x] > self.cap[y] - self.load[y] or s not in walk or s_y not in walk:
                        continue
                    t_y = y % n
                    delta = (sum(p * sc[k][t_y] for k, p in classes) - here
                             + people[x] * (walk[s_y] - walk[s]) - self.u)
                    if delta < 0 and (best is None or delta < best[0]):
                        best = (delta, x, y, [])
                    continue
                short = people[x] - (self.cap[y] - self.load[y])
                if short > 0 and (short > self.cap[x] - self.load[x] + people[x]  # no room in x for evictees
                                  or short > self.load[y] - people[y]):  # not enough others in y
                    continue
                t_y = y % n
                shift = sum(p * sc[k][t_y] for k, p in classes) - here
                found = self._plan_move(b, shift, people[x], x, y)
                if found is not None and (best is None or found[0] < best[0]):
                    best = (found[0], x, y, found[1])
        if best is None:
            return None
        _, x, y, evict = best
        self.move(list(mine[x]), y)
        if evict:
            self.move(evict, x)
        return x, y

    def _plan_move(self, b: int, shift: int, moved: int, x: int, y: int) -> tuple[int, list[int]] | None:
        """(change of the objective < 0, households evicted from y to x) for moving b's ``moved``
        people of x into y (their slot costs change by ``shift``), or None when no such move fits
        or lowers the objective."""
        size, u = self.size, self.u
        delta = shift - u  # b leaves x (it has more cells than it needs)
        short = moved - (self.cap[y] - self.load[y])
        evict: list[int] = []
        if short > 0:
            room_x = self.cap[x] - self.load[x] + moved
            if delta + self._least_shift(short, x, y, range(len(self.slot_cost))) - u >= 0:
                return None  # even the cheapest people to evict cost more than the move saves
            in_y = self.members(y)
            if delta + self._least_shift(short, x, y, {self.klass[h] for h in in_y}) - u >= 0:
                return None  # (with what the evicted could save in calls: rarely more than one)
            others: dict[int, list[int]] = {}
            for h in in_y:
                bh = self.building[h]
                if bh != b:
                    others.setdefault(bh, []).append(h)
            in_x = {self.building[h] for h in self.members(x)}
            # Households of buildings already in x go one by one (no new cell); other buildings only whole.
            singles = [h for bh, lst in others.items() if bh in in_x for h in lst]
            sc, kl, t_x, t_y = self.slot_cost, self.klass, x % self.n_slots, y % self.n_slots
            singles.sort(key=lambda h: ((sc[kl[h]][t_x] - sc[kl[h]][t_y]) * size[h], -size[h], h))
            got = 0
            for h in singles:
                if got >= short:
                    break
                if got + size[h] <= room_x:
                    evict.append(h)
                    got += size[h]
            if got < short:
                blocks = sorted(((self.people(lst), lst) for bh, lst in others.items() if bh not in in_x),
                                key=lambda nl: (nl[0], nl[1][0]))
                for n, lst in blocks:
                    if got >= short:
                        break
                    if got + n <= room_x:
                        evict.extend(lst)
                        got += n
            if got < short:
                return None
            cells = self._evict_cells(evict, x, y)
            if cells is None:
                return None
            delta += self.cost(evict, x) - self.cost(evict, y) + cells
        return (delta, evict) if delta < 0 else None

    def _least_shift(self, people: int, x: int, y: int, classes: Iterable[int]) -> int:
        """A lower bound on the slot-cost change of moving ``people`` people of ``classes`` from
        cell y to cell x."""
        t_x, t_y, sc = x % self.n_slots, y % self.n_slots, self.slot_cost
        return people * min(sc[k][t_x] - sc[k][t_y] for k in classes)

    def _evict_cells(self, evict: list[int], x: int, y: int) -> int | None:
        """Cohesion change of the buildings whose households ``evict`` leave cell y for cell x, or
        None if one of them would be called in more runs of consecutive slots at the site."""
        change = 0
        gone = set(evict)
        for bh in sorted({self.building[h] for h in evict}):
            theirs = self.cells_of(bh)
            before = len(theirs)
            after_cells = set(theirs) | {x}
            if all(h in gone for h in theirs[y]):
                after_cells.discard(y)
            s = x // self.n_slots
            if _call_runs(after_cells, s, self.n_slots) > _call_runs(set(theirs), s, self.n_slots):
                return None
            after = len(after_cells)
            change += self.u * (max(after - self.need[bh], 0) - max(before - self.need[bh], 0))
        return change


def _call_runs(cells: set[int], s: int, n_slots: int) -> int:
    """Runs of consecutive slots among one building's cells at site s (cells numbered
    site × n_slots + slot): the grid worker calls a building down once per run."""
    slots = {c - s * n_slots for c in cells if c // n_slots == s}
    return sum(1 for t in slots if t - 1 not in slots)


def tighten_cells(problem: Problem, site: IntArray, slot: IntArray, max_rounds: int = 4) -> int:
    """Move whole households so that buildings spread over more (site, slot) cells than their people
    need use fewer, where that lowers the objective (in place on ``site``/``slot``); moves made.

    For a building with extra cells, all its households in one of its cells x go to another cell y
    it uses. At the same site, if y has no room, households of other buildings leave y for x: those
    of buildings already in x one by one, or all of a building's households in y (it then swaps one
    cell for another). At another site of the building's candidates, only into room there (paying
    the walk difference). A move is made only if its exact change of the objective (walks, slot
    costs and cohesion as `sampler.plan.summary` counts them) is negative, no cell goes over its
    capacity and no building is called in more runs of consecutive slots at a site; households are
    never split. Buildings are visited in index order, cells in a fixed order, so the result is
    deterministic. Later rounds revisit only buildings in the cells moved.
    """
    from sampler.plan.summary import _largest_slot

    hh, grid = problem.registry.households, problem.grid
    n_cells = grid.capacity.size
    at = np.flatnonzero((site >= 0) & (slot >= 0))
    if not len(at):
        return 0
    cell = site[at] * grid.n + slot[at]
    n_b = len(problem.registry.buildings)
    keys = np.unique(hh.building[at] * n_cells + cell)
    spread = np.bincount(keys // n_cells, minlength=n_b)
    people = np.bincount(hh.building[at], weights=hh.size[at], minlength=n_b)
    need = np.ceil(people / _largest_slot(grid, problem.cand, n_b)).astype(np.int64)
    extra = spread > need
    todo = np.flatnonzero(extra).tolist()
    if not todo:
        return 0
    state = _Tightener(problem, at, cell, need)
    moves = 0
    for _ in range(max_rounds):
        touched: set[int] = set()
        for b in todo:
            while (changed := state.improve(b)) is not None:
                moves += 1
                touched.update(changed)
        if not touched:
            break
        again = {state.building[h] for c in sorted(touched) for h in state.members(c)}
        todo = sorted(b for b in again if extra[b])
    new = np.asarray(state.cur, dtype=np.int64)
    site[at], slot[at] = new // grid.n, new % grid.n
    return moves
