"""The minimum staffing for a target, and what losing one table team on the day does.

The minimum-staffing search (`find_minimum`) avoids simulating every level:

- each scalar axis (home-visit teams, registrars, relief teams, lab capacity) that was given
  a range is bisected with every other axis at its highest value;
- tables are first bisected as one share of the registered tables at every site (a share whose
  sites surely cannot hold everyone fails without being planned or simulated); then, from the
  highest share that fails, the *bottleneck* sites (p95 wait over the limit, or filled to
  capacity by a plan that left households unplaced) get the tables of the share that meets while
  the others keep theirs, until the target is met;
- finally it removes tables one at a time at the bottleneck site of the current best staffing
  while the target still holds (up to ``trim_rounds``), so that the minimum returned meets the
  target and, when the trim stopped on a failure, one table fewer at its bottleneck does not
  (that level was simulated and failed).

Bisection assumes that more staff never makes things worse, which holds up to noise with
common random numbers (tested). Levels are evaluated by a `sim.whatif.jobs.WhatifRun`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from sampler.executors import FutureLike
from sim.whatif.jobs import LevelResult, WhatifRun, rounded
from sim.whatif.levels import Base, Level
from sim.whatif.params import WhatifParams

__all__ = ["MinimumResult", "cheapest_meeting", "find_minimum", "minus_one"]


@dataclass(frozen=True, eq=False)
class MinimumResult:
    """The outcome of `find_minimum`."""

    found: bool
    best: LevelResult | None
    fewer_at_bottleneck: LevelResult | None
    bottlenecks: list[str]
    axes: dict[str, float]
    reason: str = ""


def _bisect(run: WhatifRun, values: list[float], make: Callable[[float], Level], step: str,
            axis: str) -> tuple[int, LevelResult | None]:
    """Index of the smallest value whose level meets the target (−1 if even the largest fails).

    Levels whose sites surely cannot hold everyone (`surely_short`) fail without being planned
    or simulated.
    """
    lo, hi = 0, len(values) - 1
    run.expect(1 + max(math.ceil(math.log2(max(len(values), 1))), 0))
    top = run.one(make(values[hi]), {axis: values[hi]}, step)
    if not top.meets:
        return -1, top
    best = top
    while lo < hi:
        mid = (lo + hi) // 2
        if run.surely_short(make(values[mid])):
            run.pruned += 1
            lo = mid + 1
            continue
        res = run.one(make(values[mid]), {axis: values[mid]}, step)
        if res.meets:
            hi, best = mid, res
        else:
            lo = mid + 1
    return hi, best


def find_minimum(run: WhatifRun, base: Base, ranges: dict[str, list[float]]) -> MinimumResult:
    """Smallest staffing meeting the target (see the module docstring for the search)."""
    wp = run.wparams
    fixed: dict[str, float] = {a: max(v) for a, v in ranges.items()}
    site_ids = [s.id for s in run.registry.sites]

    def level(values: dict[str, float]) -> Level:
        return base.level({**fixed, **values})

    for axis in ("home_teams", "registrars", "relief", "lab"):
        vals = ranges.get(axis)
        if not vals or len(vals) == 1:
            continue
        def along(v: float, a: str = axis) -> Level:
            return level({a: v})

        idx, res = _bisect(run, vals, along, f"bisect {axis}", axis)
        if idx < 0:
            assert res is not None
            return MinimumResult(False, res, None, res.bottlenecks(wp.max_p95_wait_min), fixed,
                                 f"even the largest {axis} in the range misses the target "
                                 f"(probability {res.probability:.0%}, p95 wait {res.figure('wait_p95_min'):.0f} min)")
        fixed[axis] = vals[idx]

    shares = ranges.get("tables", [1.0])
    idx, res = _bisect(run, shares, lambda v: level({"tables": v}), "bisect tables", "tables")
    if idx < 0:
        assert res is not None
        return MinimumResult(False, res, None, res.bottlenecks(wp.max_p95_wait_min), fixed,
                             f"even the largest table share misses the target (probability {res.probability:.0%}, "
                             f"p95 wait {res.figure('wait_p95_min'):.0f} min)")
    assert res is not None
    best = res
    fixed["tables"] = shares[idx]
    ceiling = best.level.tables
    below = level({"tables": shares[idx - 1]}) if idx > 0 else None
    if below is not None and not run.surely_short(below):
        # grow from the highest share that fails: bottleneck sites get the tables of the share
        # that meets, the others keep the smaller count
        current = run.one(below, {"tables": shares[idx - 1]}, "bisect tables")
        pos = {s: i for i, s in enumerate(site_ids)}
        for _ in range(wp.max_rounds):
            if current.meets:
                if current.level.staff < best.level.staff:
                    best = current
                break
            tables = list(current.level.tables)
            for sid in current.bottlenecks(wp.max_p95_wait_min):
                tables[pos[sid]] = ceiling[pos[sid]]
            if tuple(tables) == current.level.tables:
                break
            run.expect(1)
            current = run.one(current.level.with_tables(tables, "greedy"), {}, "add at bottlenecks")
    # trim: one table fewer at the bottleneck (the worst site that has more than one table)
    # while the target still holds
    fewer: LevelResult | None = None
    for _ in range(wp.trim_rounds):
        ranked = [site_ids.index(b) for b in best.bottlenecks(wp.max_p95_wait_min, n=len(site_ids))]
        movable = [i for i in ranked if best.level.tables[i] > 1]
        if not movable:
            break
        i = movable[0]
        tables = list(best.level.tables)
        tables[i] -= 1
        run.expect(1)
        trial = run.one(best.level.with_tables(tables, f"{site_ids[i]} -1"), {}, "trim at bottleneck")
        if trial.meets:
            best = trial
            continue
        fewer = trial
        break
    bottlenecks = best.bottlenecks(wp.max_p95_wait_min)
    if fewer is not None:  # the site the trim stopped at comes first
        stop = next(s for s, a, b in zip(site_ids, best.level.tables, fewer.level.tables, strict=True) if a != b)
        bottlenecks = [stop, *[b for b in bottlenecks if b != stop]]
    return MinimumResult(True, best, fewer, bottlenecks, fixed)


def cheapest_meeting(rows: list[LevelResult], wparams: WhatifParams) -> MinimumResult:
    """The level of a sweep with the fewest staff that meets the target (first on ties)."""
    meeting = [r for r in rows if r.meets]
    if not meeting:
        return MinimumResult(False, None, None, [], {}, "no level of the sweep meets the target")
    best = min(meeting, key=lambda r: r.level.staff)
    return MinimumResult(True, best, None, best.bottlenecks(wparams.max_p95_wait_min), dict(best.values))


def minus_one(run: WhatifRun, result: LevelResult, sites: int) -> pd.DataFrame:
    """Losing one table team on the day (same plan) at each of the ``sites`` busiest sites."""
    if sites <= 0:
        return pd.DataFrame()
    lv = result.level
    per_site = result.sites().sort_values("utilisation", ascending=False, kind="stable")
    chosen = [str(s) for s, t in zip(per_site["site_id"], per_site["tables"], strict=True) if t > 1][:sites]
    index = {s.id: i for i, s in enumerate(run.registry.sites)}
    inputs = run.planned(lv)
    run.expect(len(chosen))
    jobs: list[tuple[str, Level, list[FutureLike]]] = []
    for sid in chosen:
        tables = list(lv.tables)
        tables[index[sid]] -= 1
        fewer = lv.with_tables(tables)  # the level carries the tables; the plan stays as it is
        jobs.append((sid, fewer, run.replications(inputs, fewer)))
    frame = result.sites()
    before = dict(zip(frame["site_id"], frame["wait_p95_min"], strict=True))
    rows = []
    for sid, fewer, fs in jobs:
        stats = [st for f in fs for st in f.result()]
        run.minus_one_simulations += len(stats)
        run.advance()
        res = LevelResult(fewer, stats, result.unplaced_households, run.meets(stats, result.unplaced_households))
        frame = res.sites()
        after = dict(zip(frame["site_id"], frame["wait_p95_min"], strict=True))
        rows.append({
            "site_id": sid, "name": run.registry.sites[index[sid]].name,
            "tables": lv.tables[index[sid]], "tables_after": fewer.tables[index[sid]],
            "target_probability": round(result.probability, 4), "target_probability_after": round(res.probability, 4),
            "wait_p95_min": rounded(result.figure("wait_p95_min")),
            "wait_p95_min_after": rounded(res.figure("wait_p95_min")),
            "site_wait_p95_min": rounded(float(before[sid])),
            "site_wait_p95_min_after": rounded(float(after[sid])),
            "hours_to_all_who_came_after": rounded(res.figure("last_swab_hours")),
            "meets_target_after": int(res.meets),
        })
    return pd.DataFrame(rows)
