"""Who turns up at which site and when: planned households, no-shows, returns and walk-ins.

Everything is drawn at once with numpy from the replication's generator; the site processes
then consume the arrays in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sampler.model import FloatArray, IntArray
from sim.inputs import SimInputs
from sim.params import SimParams
from sim.records import FOLLOWED_UP, RETURNED, SAMPLED, WALK_IN

__all__ = ["Visits", "draw_visits", "poisson_visits"]

StrArray = npt.NDArray[np.object_]


@dataclass(frozen=True, eq=False)
class Visits:
    """Households arriving at sites, sorted by (site, arrival).

    Attributes
    ----------
    ids, kind, site, arrival, size, elderly, children, zone
        One row per arriving household; ``kind`` is SAMPLED, RETURNED, WALK_IN or FOLLOWED_UP.
    missed
        Indices (into the plan's site households) of no-shows who never came and whom no
        follow-up closed.
    followup_home, followup_home_at
        No-shows swabbed at home after a grid worker's call, and when.
    closed
        No-shows a grid worker found away or refusing.
    row
        Per arriving household, its index among the plan's site households (``inputs.ids``);
        −1 for walk-ins and Poisson-mode arrivals (`sim.resume` uses it to take out who is done).
    """

    ids: StrArray
    kind: IntArray
    site: IntArray
    arrival: FloatArray
    size: IntArray
    elderly: IntArray
    children: IntArray
    zone: IntArray
    missed: IntArray
    followup_home: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    followup_home_at: FloatArray = field(default_factory=lambda: np.zeros(0))
    closed: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    row: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)


def _sorted(ids: StrArray, kind: IntArray, site: IntArray, arrival: FloatArray, size: IntArray,
            elderly: IntArray, children: IntArray, zone: IntArray, missed: IntArray, row: IntArray) -> Visits:
    order = np.lexsort((arrival, site))
    return Visits(ids[order], kind[order], site[order], arrival[order], size[order],
                  elderly[order], children[order], zone[order], missed, row=row[order])


def draw_visits(inputs: SimInputs, params: SimParams, rng: np.random.Generator) -> Visits:
    """Arrivals of planned households (with lateness and no-shows) plus returns and walk-ins."""
    n = len(inputs.ids)
    width = inputs.slot_end - inputs.slot_start
    arrival = inputs.slot_start + rng.random(n) * width
    if params.arrival == "lateness":
        arrival = arrival + rng.normal(params.lateness_mean_min, params.lateness_sd_min, n)
    arrival = np.maximum(arrival, 0.0)
    no_show = rng.random(n) < params.no_show
    comes_back = rng.random(n) < params.no_show_return
    lo, hi = params.return_delay_min
    back_at = inputs.slot_end + rng.uniform(lo, hi, n)
    window_end = inputs.window_hours * 60
    closes = np.minimum(inputs.close_at[inputs.site], window_end) if n else np.zeros(0)
    returned = no_show & comes_back & (back_at < closes)
    came = ~no_show | returned
    arrival = np.where(returned, back_at, arrival)
    kind = np.where(returned, RETURNED, SAMPLED).astype(np.int64)

    # Walk-ins: Poisson count per site, composition resampled from the site's planned households.
    planned = np.bincount(inputs.site, minlength=inputs.n_sites)
    counts = rng.poisson(params.walk_in_share * planned)
    w_site = np.repeat(np.arange(inputs.n_sites), counts)
    by_site = np.argsort(inputs.site, kind="stable")
    first = np.concatenate([[0], np.cumsum(planned)[:-1]])
    pick = by_site[first[w_site] + np.floor(rng.random(len(w_site)) * planned[w_site]).astype(np.int64)] \
        if len(w_site) else np.zeros(0, dtype=np.int64)
    w_open = inputs.open_at[w_site]
    w_close = np.minimum(inputs.close_at[w_site], window_end)
    w_arrival = w_open + rng.random(len(w_site)) * np.maximum(w_close - w_open, 0.0)
    rank = np.arange(len(w_site)) - np.repeat(np.cumsum(counts) - counts, counts)
    site_ids = np.array(inputs.site_ids, dtype=object)
    w_ids = np.array([f"W-{s}-{k + 1}" for s, k in zip(site_ids[w_site], rank, strict=True)], dtype=object)

    # Follow-up (查漏补缺), drawn last so that every draw above is the same with or without it.
    missed = np.flatnonzero(~came)
    u = rng.random((len(missed), 3)) if params.followup_reach > 0 else np.zeros((0, 3))
    followed = np.zeros(0, dtype=np.int64)
    follow_at = np.zeros(0)
    home = closed = np.zeros(0, dtype=np.int64)
    home_at = np.zeros(0)
    if len(u):
        lo, hi = params.followup_delay_min
        call_at = inputs.slot_end[missed] + lo + u[:, 2] * (hi - lo)
        reached = (u[:, 0] < params.followup_reach) & (call_at < window_end)
        is_closed = reached & (u[:, 1] < params.followup_closed)
        at_home = reached & ~is_closed & (u[:, 1] < params.followup_closed + params.followup_home)
        comes = reached & ~is_closed & ~at_home & (call_at < closes[missed])
        followed, follow_at = missed[comes], call_at[comes]
        home, home_at = missed[at_home], call_at[at_home] + params.followup_home_min
        closed = missed[is_closed]
        missed = missed[~(is_closed | at_home | comes)]

    keep = np.flatnonzero(came)
    visits = _sorted(
        np.concatenate([inputs.ids[keep], w_ids, inputs.ids[followed]]),
        np.concatenate([kind[keep], np.full(len(w_site), WALK_IN, dtype=np.int64),
                        np.full(len(followed), FOLLOWED_UP, dtype=np.int64)]),
        np.concatenate([inputs.site[keep], w_site, inputs.site[followed]]),
        np.concatenate([arrival[keep], w_arrival, follow_at]),
        np.concatenate([inputs.size[keep], inputs.size[pick], inputs.size[followed]]),
        np.concatenate([inputs.elderly[keep], inputs.elderly[pick], inputs.elderly[followed]]),
        np.concatenate([inputs.children[keep], inputs.children[pick], inputs.children[followed]]),
        np.concatenate([inputs.zone[keep], inputs.zone[pick], inputs.zone[followed]]),
        missed,
        np.concatenate([keep, np.full(len(w_site), -1, dtype=np.int64), followed]).astype(np.int64),
    )
    return Visits(visits.ids, visits.kind, visits.site, visits.arrival, visits.size, visits.elderly,
                  visits.children, visits.zone, visits.missed, home, home_at, closed, visits.row)


def poisson_visits(inputs: SimInputs, params: SimParams, rng: np.random.Generator) -> Visits:
    """Validation mode: one-person households at every site, Poisson at a fixed rate."""
    horizon = params.poisson_hours * 60
    mean_gap = 60.0 / params.poisson_rate_per_hour
    sites, times = [], []
    for s in range(inputs.n_sites):
        expected = int(horizon / mean_gap * 1.2 + 50)
        gaps = rng.exponential(mean_gap, expected)
        t = np.cumsum(gaps)
        while t[-1] < horizon:
            t = np.concatenate([t, t[-1] + np.cumsum(rng.exponential(mean_gap, expected))])
        t = inputs.open_at[s] + t[t < horizon]
        times.append(t)
        sites.append(np.full(len(t), s, dtype=np.int64))
    arrival = np.concatenate(times) if times else np.zeros(0)
    site = np.concatenate(sites) if sites else np.zeros(0, dtype=np.int64)
    n = len(arrival)
    ids = np.array([f"P{k + 1}" for k in range(n)], dtype=object)
    ones, zeros = np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    return _sorted(ids, np.full(n, SAMPLED, dtype=np.int64), site, arrival, ones, zeros, zeros, zeros,
                   np.zeros(0, dtype=np.int64), np.full(n, -1, dtype=np.int64))
