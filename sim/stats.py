"""Statistics of one replication, computed from its flat records (outside the engine).

Waits, queue lengths and coverage are per person (a household counts as its members).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sampler.model import FloatArray
from sim.params import SimParams
from sim.records import (
    CLOSED,
    FOLLOWED_UP,
    FOLLOWUP_HOME,
    HOME,
    MISSED,
    REMAINING,
    RETURNED,
    SAMPLED,
    STATUS,
    UNPLACED,
    UNSERVED,
    WALK_IN,
    Records,
)

__all__ = ["COVERAGE_STEP_MIN", "RepStats", "coverage_curve", "queue_series", "replication_stats"]

COVERAGE_STEP_MIN = 10.0


@dataclass(frozen=True, eq=False)
class RepStats:
    """Figures of one replication.

    Attributes
    ----------
    figures
        Scalar figures by name (see docs/sim.md).
    sites
        One row per site: waits, queue, status minutes, utilisation.
    coverage
        Grid minute, share of registered people sampled and share with results.
    """

    figures: dict[str, Any]
    sites: pd.DataFrame
    coverage: pd.DataFrame


def _time_to(ends: FloatArray, sizes: npt.NDArray[np.int64], people: int, share: float) -> float:
    """Hours until ``share`` of ``people`` are done (NaN if never)."""
    if people <= 0:
        return float("nan")
    order = np.argsort(ends, kind="stable")
    cum = np.cumsum(sizes[order])
    k = int(np.searchsorted(cum, share * people - 1e-9, side="left"))
    return float(ends[order][k] / 60) if k < len(cum) else float("nan")


def coverage_curve(rec: Records, step: float = COVERAGE_STEP_MIN) -> pd.DataFrame:
    """Share of registered people sampled / with results at every ``step`` minutes up to 2 windows."""
    grid = np.arange(0.0, 2 * rec.window_hours * 60 + step / 2, step)
    registered = (rec.status != WALK_IN) & np.isfinite(rec.end)
    denom = max(rec.people, 1)
    out = {"minute": grid}
    for name, times in (("sampled", rec.end), ("results", rec.result)):
        t = times[registered]
        order = np.argsort(t, kind="stable")
        cum = np.concatenate([[0], np.cumsum(rec.size[registered][order])])
        out[name] = cum[np.searchsorted(t[order], grid, side="right")] / denom
    return pd.DataFrame(out)


def _weighted_quantiles(site: npt.NDArray[np.int64], value: FloatArray, weight: npt.NDArray[np.int64],
                        n_sites: int, qs: tuple[float, ...]) -> list[FloatArray]:
    """Per-site quantiles of ``value`` weighted by ``weight`` (NaN for empty sites)."""
    order = np.lexsort((value, site))
    v, w, s = value[order], weight[order].astype(np.float64), site[order]
    cum = np.cumsum(w)
    total = np.bincount(s, w, minlength=n_sites)
    base = np.cumsum(total) - total
    out = []
    for q in qs:
        idx = np.searchsorted(cum, base + q * total - 1e-9, side="left")
        idx = np.minimum(idx, max(len(v) - 1, 0))
        vals = v[idx] if len(v) else np.zeros(n_sites)
        out.append(np.where(total > 0, vals, np.nan))
    return out


def queue_series(rec: Records, site: int, step: float = 1.0) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(minute grid, people waiting, virtual wait of a newcomer) at one site."""
    at = (rec.site == site) & np.isfinite(rec.start)
    arrival, start, size = rec.arrival[at], rec.start[at], rec.size[at]
    end = float(np.nanmax(rec.end[at])) if at.any() else float(rec.close_at[site])
    grid = np.arange(float(rec.open_at[site]), max(end, float(rec.close_at[site])) + step, step)
    a_order, s_order = np.argsort(arrival, kind="stable"), np.argsort(start, kind="stable")
    cum_a = np.concatenate([[0], np.cumsum(size[a_order])])
    cum_s = np.concatenate([[0], np.cumsum(size[s_order])])
    waiting = cum_a[np.searchsorted(arrival[a_order], grid, side="right")] - \
        cum_s[np.searchsorted(start[s_order], grid, side="right")]
    latest_start = np.maximum.accumulate(start[a_order]) if len(start) else np.zeros(0)
    k = np.searchsorted(arrival[a_order], grid, side="right") - 1
    virtual = np.where(k >= 0, np.maximum(latest_start[np.maximum(k, 0)] - grid, 0.0) if len(start) else 0.0, 0.0)
    return grid, waiting.astype(np.float64), np.asarray(virtual, dtype=np.float64)


def _site_table(rec: Records, params: SimParams) -> pd.DataFrame:
    n_sites = len(rec.site_ids)
    at = (rec.site >= 0) & np.isfinite(rec.start)
    site, size = rec.site[at], rec.size[at]
    wait = rec.start[at] - rec.arrival[at]
    p50, p95 = _weighted_quantiles(site, wait, size, n_sites, (0.5, 0.95))
    people = np.bincount(site, size, minlength=n_sites)
    wmax = np.full(n_sites, np.nan)
    if len(site):
        np.fmax.at(wmax, site, wait)
    over = np.bincount(site, size * (wait > params.wait_limit_min), minlength=n_sites)
    busy = np.bincount(site, rec.end[at] - rec.start[at], minlength=n_sites)
    status = np.zeros((n_sites, 3))
    max_queue = np.zeros(n_sites)
    for s in range(n_sites):
        grid, waiting, virtual = queue_series(rec, s)
        open_ = (grid >= rec.open_at[s]) & (grid < rec.close_at[s])
        v = virtual[open_]
        status[s] = [(v < params.busy_wait_min).sum(),
                     ((v >= params.busy_wait_min) & (v < params.jam_wait_min)).sum(),
                     (v >= params.jam_wait_min).sum()]
        max_queue[s] = waiting.max(initial=0)
    max_m = max_queue * params.queue_spacing_m
    return pd.DataFrame({
        "site_id": list(rec.site_ids), "name": list(rec.site_names), "tables": rec.tables,
        "households": np.bincount(site, minlength=n_sites), "people": people.astype(np.int64),
        "wait_p50_min": p50, "wait_p95_min": p95, "wait_max_min": wmax,
        "share_wait_over_limit": np.where(people > 0, over / np.maximum(people, 1), 0.0),
        "minutes_smooth": status[:, 0], "minutes_busy": status[:, 1], "minutes_jammed": status[:, 2],
        "max_queue_people": max_queue, "max_queue_m": max_m, "queue_m": rec.queue_m,
        "queue_over_space": (max_m > rec.queue_m).astype(np.int64),
        "utilisation": np.where(rec.staffed_minutes > 0, busy / np.maximum(rec.staffed_minutes, 1e-9), 0.0),
        "handovers": rec.handovers,
    })


def replication_stats(rec: Records, params: SimParams) -> RepStats:
    """Every figure of one replication, from its records."""
    window = rec.window_hours * 60
    done = np.isfinite(rec.end)
    registered = done & (rec.status != WALK_IN)
    ends, sizes = rec.end[registered], rec.size[registered]
    at_site = (rec.site >= 0) & done
    wait = rec.start[at_site] - rec.arrival[at_site]
    w_size = rec.size[at_site]
    sites = _site_table(rec, params)
    curve = coverage_curve(rec)
    count = np.bincount(rec.status, minlength=len(STATUS))
    # Everyone in the registry counts: a household is done when swabbed inside the window or
    # closed by a follow-up (away, refused); what remains is missed, unplaced, unserved or late.
    left = np.isin(rec.status, REMAINING) | (registered & (rec.end > window))
    remaining_people = int(rec.size[left].sum())
    where = np.where(rec.site[left] >= 0, rec.site[left], len(rec.site_ids))
    by_site = np.bincount(where, weights=rec.size[left], minlength=len(rec.site_ids) + 1)
    names = [*map(str, rec.site_names), "未安排"]
    top = [(names[k], int(by_site[k])) for k in np.argsort(-by_site, kind="stable")[:3] if by_site[k] > 0]
    late = rec.boxes.late(params.transport_limit_h)
    worst = int(np.nanargmax(sites["wait_p95_min"].to_numpy())) if sites["people"].sum() else 0
    order = np.argsort(wait, kind="stable")
    cum = np.cumsum(w_size[order])
    p95 = float(wait[order][np.searchsorted(cum, 0.95 * cum[-1] - 1e-9)]) if len(cum) else 0.0
    figures: dict[str, Any] = {
        "people": rec.people,
        "sampled_by_window_end": float(sizes[ends <= window].sum() / max(rec.people, 1)),
        "results_by_window_end": float(rec.size[registered & (rec.result <= window)].sum() / max(rec.people, 1)),
        "hours_to_95": _time_to(ends, sizes, rec.people, 0.95),
        "hours_to_99": _time_to(ends, sizes, rec.people, 0.99),
        "hours_to_100": _time_to(ends, sizes, rec.people, 1.0),
        "target_met": bool(len(rec.status) > 0 and remaining_people == 0),
        # the staffing criterion: everyone who came swabbed in the window, nobody unplaced or unserved
        "window_met": bool(done.any() and float(np.nanmax(rec.end)) <= window and not count[UNPLACED]
                           and not count[UNSERVED]),
        "remaining_people": remaining_people,
        "remaining_top_sites": top,
        "last_swab_hours": float(np.nanmax(rec.end) / 60) if done.any() else 0.0,
        "last_result_hours": float(np.nanmax(rec.result) / 60) if np.isfinite(rec.result).any() else 0.0,
        "sampled_households": int(count[SAMPLED]), "returned_households": int(count[RETURNED]),
        "walk_in_households": int(count[WALK_IN]), "home_households": int(count[HOME]),
        "missed_households": int(count[MISSED]), "unplaced_households": int(count[UNPLACED]),
        "unserved_households": int(count[UNSERVED]),
        "followed_up_households": int(count[FOLLOWED_UP]), "followup_home_households": int(count[FOLLOWUP_HOME]),
        "closed_households": int(count[CLOSED]), "closed_people": int(rec.size[rec.status == CLOSED].sum()),
        "missed_people": int(rec.size[np.isin(rec.status, REMAINING)].sum()),
        "wait_mean_min": float(np.average(wait, weights=w_size)) if len(wait) else 0.0,
        "wait_p95_min": p95,
        "share_wait_over_limit": float(w_size[wait > params.wait_limit_min].sum() / max(w_size.sum(), 1)),
        "worst_site": str(rec.site_names[worst]) if len(rec.site_ids) else "",
        "worst_site_wait_p95_min": float(sites["wait_p95_min"].iloc[worst]) if len(rec.site_ids) else 0.0,
        "max_queue_m": float(sites["max_queue_m"].max()) if len(sites) else 0.0,
        "sites_queue_over_space": int(sites["queue_over_space"].sum()),
        "utilisation": float((rec.end[at_site] - rec.start[at_site]).sum() / max(rec.staffed_minutes.sum(), 1e-9)),
        "boxes": len(rec.boxes), "late_boxes": int(late.sum()),
    }
    return RepStats(figures, sites, curve)
