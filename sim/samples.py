"""Tubes, boxes, transport and the lab, computed column-wise from the swab end times.

Rules
-----
- Swabs are pooled per (site or team, risk zone): ``r``-in-1 tubes, or one tube per household
  when the ratio is 0. A household may spill over into the next tube.
- A tube is sealed when full; at each scheduled collection (every ``box_interval_min`` from the
  window start) open tubes are sealed and every tube waiting at the station is boxed.
- A box holds ``box_tubes`` tubes and leaves as soon as it is full; the last, partial box leaves
  with the scheduled collection. Courier trips are triangular.
- The lab processes tubes first come first served at ``lab_tubes_per_hour``; a result is out
  ``lab_result_min`` after a tube's processing starts.
Nothing here feeds back into the sites, so the whole chain is a few sorted numpy passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sampler.model import FloatArray, IntArray
from sim.params import SimParams
from sim.records import Boxes

__all__ = ["SampleFlow", "sample_flow"]



@dataclass(frozen=True, eq=False)
class SampleFlow:
    """Per household (input order): last tube, its box, lab arrival and result; and the boxes.

    ``tube_people``, ``tube_zone``, ``tube_box`` and ``tube_seal`` describe each tube.
    """

    tube: IntArray
    box: IntArray
    lab_arrival: FloatArray
    result: FloatArray
    boxes: Boxes
    tube_people: IntArray
    tube_zone: IntArray
    tube_box: IntArray
    tube_seal: FloatArray


def _group_starts(key: IntArray) -> IntArray:
    """Index of the first row of each run of equal keys (key is sorted)."""
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))


def _runs(starts: IntArray, n: int) -> IntArray:
    """Run number of every row, given the first row of each run."""
    mark = np.zeros(n, dtype=np.int64)
    mark[starts] = 1
    return np.cumsum(mark) - 1


def _lab(arrival: FloatArray, params: SimParams) -> FloatArray:
    """Start of processing of tubes arriving (sorted) at a FIFO lab of fixed rate (Lindley)."""
    if params.lab_tubes_per_hour <= 0 or len(arrival) == 0:
        return arrival.copy()
    d = 60.0 / params.lab_tubes_per_hour
    i = np.arange(len(arrival)) * d
    return np.asarray(i + np.maximum.accumulate(arrival - i))


def sample_flow(station: IntArray, zone: IntArray, size: IntArray, end: FloatArray,
                pooling: tuple[int, int, int], params: SimParams,
                rng: np.random.Generator) -> SampleFlow:
    """Pool, box, transport and test the swabs of every sampled household."""
    n = len(end)
    interval = params.box_interval_min
    pickup = np.floor(end / interval).astype(np.int64) + 1
    n_p = int(pickup.max()) + 1 if n else 1
    gkey = (station * n_p + pickup) * 3 + zone
    order = np.lexsort((np.arange(n), end, gkey))
    g_of = gkey[order]
    sz, en = size[order], end[order]
    ratio = np.asarray(pooling, dtype=np.int64)[zone[order]]

    starts = _group_starts(g_of)
    group = _runs(starts, n)
    cs = np.cumsum(sz)
    base = (cs - sz)[starts][group]
    pos_first, pos_last = cs - sz - base, cs - 1 - base
    rank = np.arange(n) - starts[group] if n else np.zeros(0, dtype=np.int64)
    pooled = ratio > 0
    safe = np.maximum(ratio, 1)
    t_first = np.where(pooled, pos_first // safe, rank)
    t_last = np.where(pooled, pos_last // safe, rank)

    ends = np.concatenate([starts[1:], [n]]) - 1 if n else np.zeros(0, dtype=np.int64)
    per_group = t_last[ends] + 1
    offset = np.cumsum(per_group) - per_group
    g_first, g_last = offset[group] + t_first, offset[group] + t_last
    n_tubes = int(per_group.sum())
    tube_group = np.repeat(np.arange(len(starts)), per_group)
    tube_local = np.arange(n_tubes) - offset[tube_group]
    last_contrib = np.searchsorted(g_first, np.arange(n_tubes), side="right") - 1
    first_contrib = np.searchsorted(g_last, np.arange(n_tubes), side="left")
    g_ratio = ratio[starts]
    g_people = cs[ends] - base[starts]
    full = (g_ratio[tube_group] == 0) | ((tube_local + 1) * g_ratio[tube_group] <= g_people[tube_group])
    g_pickup_t = (g_of[starts] // 3 % n_p).astype(np.float64) * interval
    seal = np.where(full, en[last_contrib], g_pickup_t[tube_group])
    oldest = en[first_contrib]
    tube_people = np.where(g_ratio[tube_group] > 0,
                           np.minimum(g_ratio[tube_group], g_people[tube_group] - tube_local * g_ratio[tube_group]),
                           sz[last_contrib])

    # Boxes per (station, pickup), tubes in seal order.
    bkey = g_of[starts][tube_group] // 3
    t_order = np.lexsort((np.arange(n_tubes), seal, bkey))
    b_of = bkey[t_order]
    b_starts = _group_starts(b_of)
    b_group = _runs(b_starts, n_tubes)
    b_rank = np.arange(n_tubes) - b_starts[b_group] if n_tubes else np.zeros(0, dtype=np.int64)
    box_local = b_rank // params.box_tubes
    new_box = np.concatenate([[True], (b_group[1:] != b_group[:-1]) | (box_local[1:] != box_local[:-1])]) \
        if n_tubes else np.zeros(0, dtype=bool)
    box_sorted = np.cumsum(new_box) - 1
    n_boxes = int(box_sorted[-1]) + 1 if n_tubes else 0
    box_first = np.flatnonzero(new_box)
    box_last = np.concatenate([box_first[1:], [n_tubes]]) - 1 if n_tubes else np.zeros(0, dtype=np.int64)
    box_count = box_last - box_first + 1
    s_seal = seal[t_order]
    b_pick = (b_of[box_first] % n_p).astype(np.float64) * interval
    depart = np.where(box_count >= params.box_tubes, s_seal[box_last], b_pick)
    lo, mode, hi = params.transport_min
    trip = rng.triangular(lo, mode, hi, n_boxes) if hi > lo else np.full(n_boxes, float(lo))
    box_arrival = depart + trip
    box_oldest = np.minimum.reduceat(oldest[t_order], box_first) if n_tubes else np.zeros(0)
    tube_box = np.empty(n_tubes, dtype=np.int64)
    tube_box[t_order] = box_sorted

    # Lab: tubes in order of their box's arrival.
    lab_order = np.lexsort((np.arange(n_tubes), tube_box, box_arrival[tube_box]))
    lab_start = np.empty(n_tubes)
    lab_start[lab_order] = _lab(box_arrival[tube_box][lab_order], params)
    tube_result = lab_start + params.lab_result_min

    out_tube = np.empty(n, dtype=np.int64)
    out_tube[order] = g_last
    boxes = Boxes(station=(b_of[box_first] // n_p).astype(np.int64), depart=depart, lab_arrival=box_arrival,
                  oldest=box_oldest, tubes=box_count.astype(np.int64))
    return SampleFlow(tube=out_tube, box=tube_box[out_tube], lab_arrival=box_arrival[tube_box[out_tube]],
                      result=tube_result[out_tube], boxes=boxes, tube_people=tube_people.astype(np.int64),
                      tube_zone=(g_of[starts] % 3)[tube_group].astype(np.int64), tube_box=tube_box, tube_seal=seal)
