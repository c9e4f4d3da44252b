"""What-if staffing: sweeps of staff levels, the minimum staffing for a target, and minus one.

A *level* is a complete staffing: tables staffed at every site, registrars per site, home-visit
teams, relief teams per site and lab capacity. Evaluating a level takes two kinds of job, both
sent through one `sampler.executors.Executor` (this process, the local cores or a Dask cluster):

1. *plan*: when tables or home-visit teams change, capacities change, so the area is re-planned
   with the level's capacities and the plan is joined with the registry (`SimInputs`); levels
   with the same capacities share one plan;
2. *replicate*: R seeded replications of that plan under the level's sim parameters.

Every level runs the same replication seeds (``SeedSequence(seed).spawn(R)``, exactly those of
`sampler simulate --seed`), so levels are compared under common random numbers and a result
never depends on the executor or the number of workers.

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
common random numbers (tested).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sampler.errors import InputError, InputIssue
from sampler.executors import Executor, FutureLike, SerialExecutor
from sampler.model import Registry, RiskZone
from sampler.params import Scenario, build_section
from sampler.planfiles.read import PlanFiles
from sim.inputs import SimInputs, prepare
from sim.params import SimParams
from sim.replicate import run_one
from sim.stats import RepStats
from sim.whatif.axes import AXES

__all__ = [
    "Level",
    "LevelResult",
    "MinimumResult",
    "WhatifParams",
    "WhatifRun",
    "cheapest_meeting",
    "evaluate_levels",
    "find_minimum",
    "grid_levels",
    "minus_one",
    "read_base_staffing",
    "whatif_params",
]

Progress = Callable[[int, int], None]



@dataclass(frozen=True)
class WhatifParams:
    """The ``whatif`` section of the scenario file (command-line options override it).

    Attributes
    ----------
    target_prob
        Probability (share of replications) of meeting the window that a level must reach.
    max_p95_wait_min
        Largest acceptable p95 wait in minutes (mean over replications).
    max_share_over_limit
        Largest acceptable share of people waiting longer than ``sim.wait_limit_min``
        (1 = not checked).
    replications
        Replications per level.
    ranges
        Default ranges by axis, e.g. ``{tables: "0.5:1.5:0.1", home_teams: "4,6,8"}``.
    minus_one_sites
        How many of the busiest sites get a minus-one check (0 = none).
    max_rounds
        Most rounds of the greedy growth at bottleneck sites.
    trim_rounds
        Most tables the trim removes at the bottleneck, one simulated level each.
    """

    target_prob: float = 0.95
    max_p95_wait_min: float = 30.0
    max_share_over_limit: float = 1.0
    replications: int = 10
    ranges: dict[str, str] = field(default_factory=dict)
    minus_one_sites: int = 10
    max_rounds: int = 5
    trim_rounds: int = 3

    def check(self) -> list[tuple[str, str, str]]:
        p: list[tuple[str, str, str]] = []
        if not 0 < self.target_prob <= 1:
            p.append(("target_prob", str(self.target_prob), "use a probability in (0, 1]"))
        if self.max_p95_wait_min <= 0:
            p.append(("max_p95_wait_min", str(self.max_p95_wait_min), "use a positive number of minutes"))
        if not 0 <= self.max_share_over_limit <= 1:
            p.append(("max_share_over_limit", str(self.max_share_over_limit), "use a share between 0 and 1"))
        if self.replications < 1:
            p.append(("replications", str(self.replications), "run at least one replication per level"))
        if self.minus_one_sites < 0:
            p.append(("minus_one_sites", str(self.minus_one_sites), "use 0 (none) or more sites"))
        if self.max_rounds < 1:
            p.append(("max_rounds", str(self.max_rounds), "allow at least one round"))
        if self.trim_rounds < 0:
            p.append(("trim_rounds", str(self.trim_rounds), "use 0 (no trim) or more rounds"))
        for name in self.ranges:
            if name not in AXES:
                p.append((f"ranges.{name}", str(self.ranges[name]), f"use one of {', '.join(AXES)}"))
        return p


def whatif_params(scenario: Scenario, overrides: dict[str, Any] | None = None) -> WhatifParams:
    """WhatifParams from the scenario's ``whatif`` section plus overrides; InputError if invalid."""
    raw = scenario.extra.get("whatif") or {}
    data: Any = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}} if isinstance(raw, dict) else raw
    params: WhatifParams = build_section(WhatifParams, data, scenario.source, "whatif")
    return params


# ---------------------------------------------------------------------------------------------
# Levels and ranges


@dataclass(frozen=True)
class Level:
    """One complete staffing.

    ``tables`` and ``registrars`` are per site, in the registry's site order.
    """

    tables: tuple[int, ...]
    registrars: tuple[int, ...]
    home_teams: int
    relief: int
    lab: float
    label: str = field(default="", compare=False)

    @property
    def staff(self) -> int:
        """Teams and people on duty: table teams, registrars, relief teams, home-visit teams."""
        return sum(self.tables) + sum(self.registrars) + self.relief * len(self.tables) + self.home_teams

    def capacity_key(self) -> tuple[tuple[int, ...], int]:
        """What the planner sees; levels with equal keys share one plan."""
        return self.tables, self.home_teams

    def with_tables(self, tables: Sequence[int], label: str = "") -> Level:
        return dataclasses.replace(self, tables=tuple(int(t) for t in tables), label=label or self.label)




def read_base_staffing(path: Path, registry: Registry) -> tuple[list[int], list[int] | None]:
    """Tables (and optionally registrars) per site from a CSV (UTF-8 or GB18030) or XLSX file
    headed ``site_id, tables[, registrars]`` (or 采样点编号, 采样台数, 登记员); sites not listed
    keep their registered tables. InputError names every bad row."""
    from sampler.registry.read import read_table

    frame = read_table(path, "staffing", str(path))
    file, headers = str(path), frame.attrs["headers"]
    index = {s.id: i for i, s in enumerate(registry.sites)}
    tables = [s.tables for s in registry.sites]
    has_registrars = bool((frame["registrars"] != "").any())
    registrars: list[int] | None = [0] * len(tables) if has_registrars else None
    issues: list[InputIssue] = []
    seen: set[str] = set()
    for row, (sid, t_text, r_text) in enumerate(
            zip(frame["site_id"], frame["tables"], frame["registrars"], strict=True), start=1):
        if sid not in index:
            issues.append(InputIssue(file, row, headers["site_id"], sid,
                                     "use a site id from the scenario's sites file"))
            continue
        if sid in seen:
            issues.append(InputIssue(file, row, headers["site_id"], sid, "list each site once"))
        seen.add(sid)
        for name, text, least in (("tables", t_text, 1), ("registrars", r_text, 0)):
            if name == "registrars" and registrars is None:
                continue
            try:
                n = int(text)
                if n < least:
                    raise ValueError
            except ValueError:
                issues.append(InputIssue(file, row, headers[name], text or "(blank)",
                                         f"use a whole number ≥ {least}"))
                continue
            if name == "tables":
                tables[index[sid]] = n
            elif registrars is not None:
                registrars[index[sid]] = n
    if issues:
        raise InputError(issues)
    return tables, registrars


def _tables_at(base: Sequence[int], share: float) -> tuple[int, ...]:
    return tuple(max(1, int(math.floor(b * share + 0.5))) for b in base)


def _registrars_at(tables: Sequence[int], per_table: float) -> tuple[int, ...]:
    return tuple(int(math.floor(t * per_table + 0.5)) for t in tables)


@dataclass(frozen=True)
class Base:
    """The staffing a sweep starts from (the registry's, or a base-staffing file's)."""

    tables: tuple[int, ...]
    registrars: tuple[int, ...] | None
    registrars_per_table: float
    home_teams: int
    relief: int
    lab: float

    def level(self, values: dict[str, float]) -> Level:
        share = values.get("tables", 1.0)
        tables = _tables_at(self.tables, share)
        if "registrars" in values:
            registrars = _registrars_at(tables, values["registrars"])
        elif self.registrars is not None:
            registrars = tuple(min(r, t) for r, t in zip(self.registrars, tables, strict=True))
        else:
            registrars = _registrars_at(tables, self.registrars_per_table)
        label = ", ".join(f"{k}={v:g}" for k, v in values.items())
        return Level(tables=tables, registrars=registrars,
                     home_teams=int(values.get("home_teams", self.home_teams)),
                     relief=int(values.get("relief", self.relief)),
                     lab=float(values.get("lab", self.lab)), label=label or "base")


def make_base(scenario: Scenario, registry: Registry, params: SimParams,
              tables: Sequence[int] | None = None, registrars: Sequence[int] | None = None) -> Base:
    return Base(tables=tuple(tables) if tables is not None else tuple(s.tables for s in registry.sites),
                registrars=tuple(registrars) if registrars is not None else None,
                registrars_per_table=params.registrars_per_table,
                home_teams=scenario.home_visits.teams, relief=params.relief_teams,
                lab=params.lab_tubes_per_hour)


def grid_levels(base: Base, ranges: dict[str, list[float]]) -> list[tuple[dict[str, float], Level]]:
    """Every combination of the ranges (the Cartesian product, in axis order of ``AXES``)."""
    axes = [a for a in AXES if a in ranges]
    combos: list[dict[str, float]] = [{}]
    for a in axes:
        combos = [{**c, a: v} for c in combos for v in ranges[a]]
    return [(c, base.level(c)) for c in combos]


# ---------------------------------------------------------------------------------------------
# Jobs


def _with_tables(registry: Registry, tables: Sequence[int]) -> Registry:
    """The registry with these tables at its sites (site order)."""
    sites = tuple(dataclasses.replace(s, tables=int(t)) for s, t in zip(registry.sites, tables, strict=True))
    return dataclasses.replace(registry, sites=sites)


def surely_short(scenario: Scenario, registry: Registry) -> bool:
    """True when the sites cannot hold everyone who must come to them, whatever the plan.

    Compares an upper bound of the site capacity in the window (every table at its rate and
    the utilisation target for all its open hours) with a lower bound of the people who must
    come to a site (everyone outside sealed buildings and households without special needs).
    """
    hours = scenario.window.hours
    cap = sum(s.tables * s.rate * scenario.capacity.utilisation
              * min(((s.close_minute - s.open_minute) % 1440 or 1440) / 60, hours) for s in registry.sites)
    hh, b = registry.households, registry.buildings
    must_come = (b.zone[hh.building] != RiskZone.SEALED) & (hh.needs == 0)
    return cap < float(hh.size[must_come].sum())


def plan_inputs(scenario: Scenario, registry: Registry, tables: tuple[int, ...],
                home_teams: int) -> tuple[SimInputs, tuple[float, ...]]:
    """Job: re-plan the area with these capacities and join the plan with the registry; also
    return each site's planned fill (people planned / slot capacity over the window).

    When the sites are surely too small (`surely_short`), the leftover repair is greedy: no
    repair can place everyone then, and the level fails on its unplaced households anyway.
    """
    from sampler.plan.planner import make_plan

    reg = _with_tables(registry, tables)
    sc = scenario.replace(home_visits=dataclasses.replace(scenario.home_visits, teams=home_teams))
    if surely_short(sc, reg):
        sc = sc.replace(planner=dataclasses.replace(sc.planner, repair_limit=0))
    plan = make_plan(sc, reg)
    files = PlanFiles(directory=Path("<in memory>"), summary=plan.summary, **plan.frames())
    capacity = plan.grid.capacity.sum(axis=1).astype(np.float64)
    fill = plan.load().sum(axis=1) / np.maximum(capacity, 1.0)
    return prepare(sc, reg, files), tuple(round(float(f), 6) for f in fill)


def _sim_inputs(inputs: SimInputs, level: Level) -> SimInputs:
    return dataclasses.replace(inputs, tables=np.asarray(level.tables, dtype=np.int64),
                               registrars=np.asarray(level.registrars, dtype=np.int64))


def _sim_params(params: SimParams, level: Level) -> SimParams:
    return dataclasses.replace(params, relief_teams=level.relief, lab_tubes_per_hour=level.lab)


def replicate_chunk(inputs: SimInputs, level: Level, params: SimParams,
                    seeds: list[np.random.SeedSequence]) -> list[RepStats]:
    """Job: several replications of a planned level (the plan is shipped once per chunk)."""
    return [replicate_level(inputs, level, params, s) for s in seeds]


def _chunks(seeds: list[np.random.SeedSequence], n: int) -> list[list[np.random.SeedSequence]]:
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
    stats, _ = run_one(_sim_inputs(inputs, level), _sim_params(params, level), seed, False)
    return stats


# ---------------------------------------------------------------------------------------------
# Results


def _probability(stats: Sequence[RepStats]) -> float:
    """Share of replications in which the window target was met."""
    return sum(bool(s.figures["target_met"]) for s in stats) / len(stats)


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
        return _probability(self.stats)

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
            "hours_to_95": _r(self.figure("hours_to_95")), "hours_to_all_who_came": _r(self.figure("last_swab_hours")),
            "sampled_by_window_end": _r(self.figure("sampled_by_window_end"), 5),
            "wait_p95_min": _r(self.figure("wait_p95_min")),
            "share_wait_over_limit": _r(self.figure("share_wait_over_limit"), 5),
            "meets_target": int(self.meets),
        }


def _r(x: float, nd: int = 3) -> float | None:
    return None if not math.isfinite(x) else round(x, nd)


class WhatifRun:
    """Evaluates levels on an executor, planning each distinct capacity once.

    Results are cached by level, so a search that returns to a level does not simulate it
    again; `simulations` counts the replications the sweep or search ran, and
    `minus_one_simulations` those of the minus-one checks.
    """

    def __init__(self, scenario: Scenario, registry: Registry, params: SimParams, wparams: WhatifParams,
                 seed: int, executor: Executor | None = None, progress: Progress | None = None):
        self.scenario, self.registry, self.params, self.wparams = scenario, registry, params, wparams
        self.seed = seed
        self.executor: Executor = executor or SerialExecutor()
        self.progress = progress
        self.seeds = np.random.SeedSequence(seed).spawn(wparams.replications)
        # one chunk of replications per worker: the plan travels once per chunk, not per replication
        self.chunks = _chunks(self.seeds, int(getattr(self.executor, "workers", 1)))
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
        prob = _probability(stats)
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

    def evaluate(self, items: Sequence[tuple[Level, dict[str, float]]], step: str = "") -> list[LevelResult]:
        """Results of these levels (cached ones are not simulated again), in the given order."""
        todo = list(dict.fromkeys(lv for lv, _ in items if lv not in self._results))
        self.inputs_for(todo)
        futures: list[list[FutureLike]] = [
            [self.executor.submit(replicate_chunk, self._plans[lv.capacity_key()][0], lv, self.params, chunk)
             for chunk in self.chunks]
            for lv in todo
        ]
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
        return surely_short(self.scenario, _with_tables(self.registry, level.tables))

    def one(self, level: Level, values: dict[str, float] | None = None, step: str = "") -> LevelResult:
        return self.evaluate([(level, values or {})], step)[0]


def evaluate_levels(run: WhatifRun, levels: list[tuple[dict[str, float], Level]]) -> list[LevelResult]:
    """A full sweep: every level of the grid."""
    run.expect(len(levels))
    return run.evaluate([(lv, v) for v, lv in levels], step="sweep")


# ---------------------------------------------------------------------------------------------
# Minimum staffing


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


# ---------------------------------------------------------------------------------------------
# Minus one


def minus_one(run: WhatifRun, result: LevelResult, sites: int) -> pd.DataFrame:
    """Losing one table team on the day (same plan) at each of the ``sites`` busiest sites."""
    if sites <= 0:
        return pd.DataFrame()
    lv = result.level
    per_site = result.sites().sort_values("utilisation", ascending=False, kind="stable")
    chosen = [str(s) for s, t in zip(per_site["site_id"], per_site["tables"], strict=True) if t > 1][:sites]
    index = {s.id: i for i, s in enumerate(run.registry.sites)}
    inputs = run._plans[lv.capacity_key()][0]
    run.expect(len(chosen))
    jobs: list[tuple[str, Level, list[FutureLike]]] = []
    for sid in chosen:
        tables = list(lv.tables)
        tables[index[sid]] -= 1
        fewer = lv.with_tables(tables)  # the level carries the tables; the plan stays as it is
        jobs.append((sid, fewer, [run.executor.submit(replicate_chunk, inputs, fewer, run.params, chunk)
                                  for chunk in run.chunks]))
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
            "wait_p95_min": _r(result.figure("wait_p95_min")), "wait_p95_min_after": _r(res.figure("wait_p95_min")),
            "site_wait_p95_min": _r(float(before[sid])),
            "site_wait_p95_min_after": _r(float(after[sid])),
            "hours_to_all_who_came_after": _r(res.figure("last_swab_hours")),
            "meets_target_after": int(res.meets),
        })
    return pd.DataFrame(rows)
