"""One what-if run end to end: the sweep and/or the minimum search, minus one, and the report.

    report = run_whatif(scenario, registry, params, wparams, seed, mode, ranges, base, executor,
                        progress, executor_label)

Shared by `sampler whatif` and the service's what-if jobs, so both evaluate the same levels.
"""

from __future__ import annotations

import pandas as pd

from sampler.executors import Executor
from sampler.model import CountProgress, Registry
from sampler.params import Scenario
from sim.params import SimParams
from sim.whatif.jobs import WhatifRun, evaluate_levels
from sim.whatif.levels import Base, grid_levels
from sim.whatif.output import WhatifReport
from sim.whatif.params import WhatifParams
from sim.whatif.search import cheapest_meeting, find_minimum, minus_one

__all__ = ["run_whatif"]


def run_whatif(scenario: Scenario, registry: Registry, params: SimParams, wparams: WhatifParams, seed: int,
               mode: str, ranges: dict[str, list[float]], base: Base, executor: Executor,
               progress: CountProgress | None, executor_label: str) -> WhatifReport:
    """Evaluate the ranges' grid (``sweep``/``both``), find the minimum staffing (``search``/``both``;
    the cheapest level that meets the target for ``sweep``), simulate minus one team at it."""
    grid = grid_levels(base, ranges)
    run = WhatifRun(scenario, registry, params, wparams, seed, executor, progress)
    rows = evaluate_levels(run, grid) if mode in ("sweep", "both") else []
    minimum = find_minimum(run, base, ranges) if mode != "sweep" else cheapest_meeting(rows, wparams)
    checked = minimum.best if minimum.found else None
    m1 = minus_one(run, checked, wparams.minus_one_sites) if checked is not None else pd.DataFrame()
    evaluated = rows + [r for r in run.history if r.step != "sweep"] if mode == "both" else (rows or run.history)
    return WhatifReport(
        area=scenario.area, seed=seed, mode=mode, wparams=wparams, ranges=ranges, rows=list(evaluated),
        minimum=minimum, minus_one=m1, simulations=run.simulations,
        minus_one_simulations=run.minus_one_simulations, plans=run.plans, pruned=run.pruned,
        full_sweep_levels=len(grid), executor=executor_label,
    )
