"""Evaluating levels: plan and replication jobs on an executor, their results, `WhatifRun`.

Evaluating a level takes two kinds of job, both sent through one `sampler.executors.Executor`
(this process, the local cores or a Dask cluster):

1. *plan* (`plan_inputs`): when tables or home-visit teams change, capacities change, so the area
   is re-planned with the level's capacities and the plan, in memory, is joined with the registry
   (`sim.inputs.from_plan`); levels with the same capacities share one plan;
2. *replicate* (`replicate_chunk`): R seeded replications of that plan under the level's sim
   parameters, in one chunk per worker.

Every level runs the same replication seeds (``SeedSequence(seed).spawn(R)``, exactly those of
`sampler simulate --seed`), so levels are compared under common random numbers and a result
never depends on the executor or the number of workers.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sampler.executors import Executor, FutureLike, SerialExecutor
from sampler.model import CountProgress, Registry
from sampler.params import Scenario
from sim.inputs import SimInputs, from_plan
from sim.params import SimParams
from sim.replicate import run_one
from sim.stats import RepStats
from sim.whatif.levels import (
    Level,
    level_inputs,
    level_params,
    planning_inputs,
    registry_with_tables,
    surely_short,
)
from sim.whatif.params import WhatifParams

__all__ = ["LevelResult", "WhatifRun", "chunks", "evaluate_levels", "plan_inputs", "probability",
           "replicate_chunk", "replicate_level", "rounded"]



def plan_inputs(scenario: Scenario, registry: Registry, tables: tuple[int, ...],
                home_teams: int) -> tuple[SimInputs, tuple[float, ...]]:
    """Job: re-plan the area with these capacities (`sim.whatif.levels.planning_inputs`) and join
    the plan with the registry; also return each site's planned fill (people planned / slot
    capacity over the window)."""
    from sampler.plan.planner import make_plan

    plan = make_plan(*planning_inputs(scenario, registry, tables, home_teams))
    capacity = plan.grid.capacity.sum(axis=1).astype(np.float64)
    fill = plan.load().sum(axis=1) / np.maximum(capacity, 1.0)
    return from_plan(plan), tuple(round(float(f), 6) for f in fill)


def replicate_chunk(inputs: SimInputs, level: Level, params: SimParams,
                    seeds: list[np.random.SeedSequence]) -> list[RepStats]:
    """Job: several replications of a planned level (the plan is shipped once per chunk)."""
    return [replicate_level(inputs, level, params, s) for s in seeds]


def chunks(seeds: list[np.random.SeedSequence], n: int) -> list[list[np.random.SeedSequence]]:
    """``seeds`` in at most ``n`` contiguous chunks of near-equal size (order kept)."""
    n = max(1, min(n, len(seeds)))
    bounds = np.linspace(0, len(seeds), n + 1).round().astype(int)
    return [seeds[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def replicate_level(inputs: SimInputs, level: Level, params: SimParams,
                    seed: np.random.SeedSequence) -> RepStats:
    """Job: one replication of a planned level.

    The seed is copied first: spawning from a SeedSequence advances it, and in this process the
    same seed object serves every level.
    """
    seed = copy.deepcopy(seed)
    stats, _ = run_one(level_inputs(inputs, level), level_params(params, level), seed, False)
    return stats


def probability(stats: Sequence[RepStats]) -> float:
    """Share of replications in which the window target was met."""
    return sum(bool(s.figures["window_met"]) for s in stats) / len(stats)


@dataclass(frozen=True, eq=False)
class LevelResult:
    """What R replications of one level gave."""

    level: Level
    stats: list[RepStats]
    unplaced_households: int
    meets: bool
    values: dict[str, float] = field(default_factory=dict)
    step: str = ""
    plan_fill: tuple[float, ...] = ()

    def figure(self, name: str) -> float:
        """Mean of a replication figure over replications (NaN where a replication had none)."""
        xs = [s.figures[name] for s in self.stats]
        arr = np.array([np.nan if x is None else float(x) for x in xs], dtype=np.float64)
        return float(np.nanmean(arr)) if np.isfinite(arr).any() else math.nan

    @property
    def probability(self) -> float:
        return probability(self.stats)

    def sites(self) -> pd.DataFrame:
        """Per-site wait p95, share over the limit and utilisation, averaged over replications."""
        frames = pd.concat([s.sites[["site_id", "wait_p95_min", "share_wait_over_limit", "utilisation", "people"]]
                            for s in self.stats])
        out = frames.groupby("site_id", sort=False).mean().reset_index()
        out["tables"] = list(self.level.tables)
        return out

    def bottlenecks(self, max_p95: float, n: int = 5) -> list[str]:
        """Where more tables would help, worst first.

        Sites whose p95 wait breaks the limit; when the plan left households unplaced, also the
        sites the plan filled to capacity (≥ 97 % of their slot capacity, or the ``n`` fullest);
        when neither applies, the ``n`` sites with the longest p95 wait.
        """
        s = self.sites()
        s["fill"] = list(self.plan_fill) if self.plan_fill else 0.0
        s = s.sort_values(["wait_p95_min", "utilisation"], ascending=False, kind="stable")
        out = [str(x) for x in s[s["wait_p95_min"] > max_p95]["site_id"]]
        if self.unplaced_households:
            by_fill = s.sort_values("fill", ascending=False, kind="stable")
            full = by_fill[by_fill["fill"] >= 0.97]["site_id"].tolist() or by_fill["site_id"].head(n).tolist()
            out += [str(x) for x in full if str(x) not in out]
        return out or [str(x) for x in s["site_id"].head(n)]

    def row(self) -> dict[str, Any]:
        lv = self.level
        return {
            "step": self.step, "level": lv.label, **{f"axis_{k}": v for k, v in self.values.items()},
            "tables": sum(lv.tables), "registrars": sum(lv.registrars), "home_teams": lv.home_teams,
            "relief_per_site": lv.relief, "lab_tubes_per_hour": lv.lab, "staff": lv.staff,
            "replications": len(self.stats), "unplaced_households": self.unplaced_households,
            "target_probability": round(self.probability, 4),
            "hours_to_95": rounded(self.figure("hours_to_95")),
            "hours_to_all_who_came": rounded(self.figure("last_swab_hours")),
            "sampled_by_window_end": rounded(self.figure("sampled_by_window_end"), 5),
            "wait_p95_min": rounded(self.figure("wait_p95_min")),
            "share_wait_over_limit": rounded(self.figure("share_wait_over_limit"), 5),
            "meets_target": int(self.meets),
        }


def rounded(x: float, nd: int = 3) -> float | None:
    return None if not math.isfinite(x) else round(x, nd)


class WhatifRun:
    """Evaluates levels on an executor, planning each distinct capacity once.

    Results are cached by level, so a search that returns to a level does not simulate it
    again; `simulations` counts the replications the sweep or search ran, and
    `minus_one_simulations` those of the minus-one checks.
    """

    def __init__(self, scenario: Scenario, registry: Registry, params: SimParams, wparams: WhatifParams,
                 seed: int, executor: Executor | None = None, progress: CountProgress | None = None):
        self.scenario, self.registry, self.params, self.wparams = scenario, registry, params, wparams
        self.seed = seed
        self.executor: Executor = executor or SerialExecutor()
        self.progress = progress
        self.seeds = np.random.SeedSequence(seed).spawn(wparams.replications)
        # one chunk of replications per worker: the plan travels once per chunk, not per replication
        self.chunks = chunks(self.seeds, int(getattr(self.executor, "workers", 1)))
        self._plans: dict[tuple[tuple[int, ...], int], tuple[SimInputs, tuple[float, ...]]] = {}
        self._results: dict[Level, LevelResult] = {}
        self.simulations = 0
        self.minus_one_simulations = 0
        self.pruned = 0
        self.plans = 0
        self.history: list[LevelResult] = []
        self._done = 0
        self._total = 0

    def expect(self, levels: int) -> None:
        """Tell the progress bar how many more levels are coming."""
        self._total += levels
        if self.progress is not None:
            self.progress(self._done, self._total)

    def meets(self, stats: list[RepStats], unplaced: int) -> bool:
        w = self.wparams
        prob = probability(stats)
        p95 = float(np.mean([s.figures["wait_p95_min"] for s in stats]))
        share = float(np.mean([s.figures["share_wait_over_limit"] for s in stats]))
        return (unplaced == 0 and prob >= w.target_prob - 1e-12 and p95 <= w.max_p95_wait_min
                and share <= w.max_share_over_limit)

    def advance(self) -> None:
        """One more level done (progress bar)."""
        self._done += 1
        if self.progress is not None:
            self.progress(self._done, max(self._total, self._done))

    def inputs_for(self, levels: Iterable[Level]) -> None:
        """Plan every capacity not planned yet (in parallel on the executor)."""
        keys = list(dict.fromkeys(lv.capacity_key() for lv in levels if lv.capacity_key() not in self._plans))
        futures = [self.executor.submit(plan_inputs, self.scenario, self.registry, k[0], k[1]) for k in keys]
        for k, f in zip(keys, futures, strict=True):
            self._plans[k] = f.result()
            self.plans += 1

    def planned(self, level: Level) -> SimInputs:
        """The joined plan of the level's capacities (planned by `inputs_for`)."""
        return self._plans[level.capacity_key()][0]

    def replications(self, inputs: SimInputs, level: Level) -> list[FutureLike]:
        """Submit the run's replications of ``inputs`` staffed as ``level``: one job per chunk."""
        return [self.executor.submit(replicate_chunk, inputs, level, self.params, chunk) for chunk in self.chunks]

    def evaluate(self, items: Sequence[tuple[Level, dict[str, float]]], step: str = "") -> list[LevelResult]:
        """Results of these levels (cached ones are not simulated again), in the given order."""
        todo = list(dict.fromkeys(lv for lv, _ in items if lv not in self._results))
        self.inputs_for(todo)
        futures = [self.replications(self.planned(lv), lv) for lv in todo]
        values = dict(items)
        for lv, fs in zip(todo, futures, strict=True):
            stats = [st for f in fs for st in f.result()]
            self.simulations += len(stats)
            inputs, fill = self._plans[lv.capacity_key()]
            unplaced = len(inputs.unplaced_ids)
            res = LevelResult(lv, stats, unplaced, self.meets(stats, unplaced), values.get(lv, {}), step, fill)
            self._results[lv] = res
            self.history.append(res)
            self.advance()
        return [dataclasses.replace(self._results[lv], level=lv, values=v or self._results[lv].values,
                                    step=step or self._results[lv].step) for lv, v in items]

    def surely_short(self, level: Level) -> bool:
        """Whether this level's sites surely cannot hold everyone (no need to simulate it)."""
        return surely_short(self.scenario, registry_with_tables(self.registry, level.tables))

    def one(self, level: Level, values: dict[str, float] | None = None, step: str = "") -> LevelResult:
        return self.evaluate([(level, values or {})], step)[0]


def evaluate_levels(run: WhatifRun, levels: list[tuple[dict[str, float], Level]]) -> list[LevelResult]:
    """A full sweep: every level of the grid."""
    run.expect(len(levels))
    return run.evaluate([(lv, v) for v, lv in levels], step="sweep")
