"""Replications on all cores and their summary: means with 95 % confidence intervals.

Each replication's seed is a child of the master seed (``SeedSequence(seed).spawn``), so the
results do not depend on how many workers ran them or in what order. Work goes through the
executor interface of `sampler.executors` (this process, the local cores, or a Dask cluster).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from sampler.errors import COMMAND_LINE, InputError, InputIssue
from sampler.executors import DaskExecutor, Executor, ProcessExecutor, SerialExecutor
from sampler.model import CountProgress, Registry
from sampler.params import Scenario
from sampler.planfiles.read import PlanFiles
from sim.engine import run_replication
from sim.inputs import SimInputs, prepare
from sim.params import SimParams
from sim.records import Records
from sim.stats import RepStats, replication_stats

__all__ = [
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SerialExecutor",
    "SimResult",
    "replicate",
    "run_one",
    "simulate",
]



def run_one(inputs: SimInputs, params: SimParams, seed: np.random.SeedSequence,
            keep_records: bool) -> tuple[RepStats, Records | None]:
    """One replication and its statistics (records kept only if asked: they are large)."""
    records = run_replication(inputs, params, seed)
    return replication_stats(records, params), records if keep_records else None


def _mean_ci(values: list[float]) -> dict[str, float | None]:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if len(arr) == 0:
        return {"mean": None, "ci95": None, "min": None, "max": None, "n": 0}
    half = float(sps.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
    return {"mean": round(float(arr.mean()), 4), "ci95": round(half, 4), "min": round(float(arr.min()), 4),
            "max": round(float(arr.max()), 4), "n": int(len(arr))}


@dataclass(frozen=True, eq=False)
class SimResult:
    """Replications of one plan.

    Attributes
    ----------
    seed, params, plan_sha256, window_hours
        What was run.
    window_start
        The window's first minute, ``YYYY-MM-DD HH:MM`` ('' when not known): charts show clock time.
    stats
        Per-replication statistics, in replication order.
    records
        Flat records of replication 0.
    """

    seed: int
    params: SimParams
    plan_sha256: str
    window_hours: float
    stats: list[RepStats]
    records: Records
    window_start: str = ""

    @property
    def replications(self) -> int:
        return len(self.stats)

    @property
    def target_met(self) -> int:
        """Replications in which every household of the registry was swabbed within the window or
        closed by a follow-up (away, refused): 不漏一户."""
        return sum(bool(s.figures["target_met"]) for s in self.stats)

    @property
    def window_met(self) -> int:
        """Replications in which everyone who came was swabbed within the window and the plan left
        no household unplaced (what staffing decides; what-if searches on it)."""
        return sum(bool(s.figures["window_met"]) for s in self.stats)

    def sites(self) -> pd.DataFrame:
        """Per-site figures, averaged over replications (worst wait: the maximum)."""
        frames = pd.concat([s.sites for s in self.stats])
        keys = ["site_id", "name", "tables", "queue_m"]
        means = frames.drop(columns=["wait_max_min"]).groupby(keys, sort=False).mean().reset_index()
        worst = frames.groupby(keys, sort=False)["wait_max_min"].max().reset_index(drop=True)
        means.insert(list(means.columns).index("wait_p95_min") + 1, "wait_max_min", worst)
        means["queue_over_space"] = (means["max_queue_m"] > means["queue_m"]).astype(np.int64)
        return means

    def coverage(self) -> pd.DataFrame:
        """Coverage curve: mean, min and max share over replications at every grid minute."""
        minute = self.stats[0].coverage["minute"].to_numpy()
        out: dict[str, Any] = {"minute": minute, "hours": minute / 60}
        for name in ("sampled", "results"):
            values = np.vstack([s.coverage[name].to_numpy() for s in self.stats])
            out[f"{name}_mean"] = values.mean(axis=0)
            out[f"{name}_min"] = values.min(axis=0)
            out[f"{name}_max"] = values.max(axis=0)
        return pd.DataFrame(out)

    def worst_site(self) -> tuple[str, float]:
        """Name and mean wait p95 (minutes) of the site with the longest p95 wait."""
        sites = self.sites()
        if sites.empty or sites["wait_p95_min"].isna().all():
            return "", 0.0
        i = int(np.nanargmax(sites["wait_p95_min"].to_numpy()))
        return str(sites["name"].iloc[i]), float(sites["wait_p95_min"].iloc[i])

    def verdict(self) -> str:
        """One plain sentence for the end of a run."""
        name, p95 = self.worst_site()
        hours = f"{self.window_hours:g}-hour"
        n = max(len(self.stats), 1)
        remaining = sum(s.figures["remaining_people"] for s in self.stats) / n
        closed = sum(s.figures["closed_people"] for s in self.stats) / n
        text = (f"{hours} target met in {self.target_met} of {self.replications} replications "
                f"(everyone swabbed in the window or closed by a follow-up; sites kept up with everyone "
                f"who came in {self.window_met}); longest wait p95 {p95:.0f} min at {name} site")
        if remaining >= 1:
            places: dict[str, float] = {}
            for s in self.stats:
                for site, people in s.figures["remaining_top_sites"]:
                    places[site] = places.get(site, 0.0) + people / n
            top = sorted(places.items(), key=lambda kv: -kv[1])[:3]
            text += (f"; about {remaining:,.0f} people remain unsampled at the window's end, most at "
                     + ", ".join(f"{site} ({people:,.0f})" for site, people in top))
        if closed >= 1:
            text += f"; about {closed:,.0f} people closed by follow-up (away or refused)"
        return text

    def summary(self) -> dict[str, Any]:
        """The figures of summary.json: means with 95 % CIs, target probability, seed, plan hash."""
        numeric = [k for k, v in self.stats[0].figures.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)]
        met = self.target_met
        r = self.replications
        return {
            "seed": self.seed,
            "replications": r,
            "plan_sha256": self.plan_sha256,
            "window_hours": self.window_hours,
            "target_met_replications": met,
            "window_met_replications": self.window_met,
            "target_probability": round(met / r, 4),
            "verdict": self.verdict(),
            "figures": {k: _mean_ci([s.figures[k] for s in self.stats]) for k in numeric},
            "worst_site_by_replication": [s.figures["worst_site"] for s in self.stats],
        }


def replicate(inputs: SimInputs, params: SimParams, seed: int, replications: int,
              executor: Executor | None = None, progress: CountProgress | None = None) -> SimResult:
    """Run ``replications`` seeded replications (on ``executor``, or in this process)."""
    if replications < 1:
        raise InputError([InputIssue(COMMAND_LINE, None, "replications", str(replications),
                                     "run at least one replication")])
    if seed < 0:
        raise InputError([InputIssue(COMMAND_LINE, None, "seed", str(seed), "use a seed ≥ 0")])
    children = np.random.SeedSequence(seed).spawn(replications)
    ex: Executor = executor or SerialExecutor()
    futures = [ex.submit(run_one, inputs, params, child, i == 0) for i, child in enumerate(children)]
    stats: list[RepStats] = []
    records: Records | None = None
    for i, future in enumerate(futures):
        rep_stats, rep_records = future.result()
        stats.append(rep_stats)
        if i == 0:
            records = rep_records
        if progress is not None:
            progress(i + 1, replications)
    assert records is not None
    return SimResult(seed, params, inputs.plan_sha256, inputs.window_hours, stats, records, inputs.window_start)


def simulate(scenario: Scenario, registry: Registry, plan: PlanFiles, params: SimParams, seed: int,
             replications: int, executor: Executor | None = None,
             progress: CountProgress | None = None) -> SimResult:
    """Check a plan by simulation: join it with its registry, then run seeded replications.

    Raises InputError when the plan was made from other registry files or lists unknown
    households or sites.
    """
    return replicate(prepare(scenario, registry, plan, params), params, seed, replications, executor, progress)
