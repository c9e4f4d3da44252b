"""What-if jobs: `sampler whatif` on a stored plan's scenario, in a worker process.

The worker rebuilds the scenario and registry from the stored files, runs the what-if search or
sweep serially (the worker is already a separate process; results never depend on the executor)
and stores summary.json and the whatif.csv rows as JSON in one transaction with the job's
success. The request was bounded when the job was made (`api.routers.whatif`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from api.db import make_engine, session_factory
from api.jobs import (
    JobGone,
    error_text,
    fail_job,
    finish_job,
    progress_job,
    restore_scenario,
    start_job,
)
from api.models import Job, Plan, Whatif
from api.scratch import scratch_dir

__all__ = ["run_whatif_job"]

log = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run_whatif_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a what-if job."""
    engine = make_engine(database_url)
    try:
        import pandas as pd

        from sampler.executors import SerialExecutor
        from sampler.registry.read import load_registry
        from sim.params import sim_params
        from sim.whatif.axes import parse_range
        from sim.whatif.jobs import WhatifRun, evaluate_levels
        from sim.whatif.levels import grid_levels, make_base
        from sim.whatif.output import WhatifReport
        from sim.whatif.params import whatif_params
        from sim.whatif.search import cheapest_meeting, find_minimum, minus_one

        start_job(engine, job_id)
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.plan_id is not None
            plan = session.get(Plan, job.plan_id)
            if plan is None or plan.scenario_id is None:
                raise LookupError(f"plan {job.plan_id} is gone or was not made from a stored scenario")
            plan_id, scenario_id, params = plan.id, plan.scenario_id, json.loads(job.params)
        with scratch_dir(Path(data_dir), f"whatif{job_id}-") as tmp:
            scenario = restore_scenario(engine, scenario_id, tmp)
            registry = load_registry(scenario)
            sim = sim_params(scenario)
            wparams = whatif_params(scenario, {
                "replications": params["replications"], "target_prob": params.get("target_prob"),
                "max_p95_wait_min": params.get("max_p95_wait_min"), "minus_one_sites": params["minus_one_sites"]})
            ranges = {axis: parse_range(axis, text, "request") for axis, text in params["ranges"].items()}
            seed, mode = int(params["seed"]), str(params["mode"])
            base = make_base(scenario, registry, sim)
            grid = grid_levels(base, ranges)
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.5 or done == total:
                    last[0] = now
                    progress_job(engine, job_id, "simulating levels", round(0.05 + 0.85 * done / max(total, 1), 3))

            run = WhatifRun(scenario, registry, sim, wparams, seed, SerialExecutor(), progress)
            rows = evaluate_levels(run, grid) if mode in ("sweep", "both") else []
            minimum = find_minimum(run, base, ranges) if mode != "sweep" else cheapest_meeting(rows, wparams)
            checked = minimum.best if minimum.found else None
            m1 = minus_one(run, checked, wparams.minus_one_sites) if checked is not None else pd.DataFrame()
            evaluated = rows + [r for r in run.history if r.step != "sweep"] if mode == "both" else (rows or run.history)
            report = WhatifReport(
                area=scenario.area, seed=seed, mode=mode, wparams=wparams, ranges=ranges, rows=list(evaluated),
                minimum=minimum, minus_one=m1, simulations=run.simulations,
                minus_one_simulations=run.minus_one_simulations, plans=run.plans, pruned=run.pruned,
                full_sweep_levels=len(grid), executor="1 service worker")
            progress_job(engine, job_id, "storing", 0.95)
            summary = json.dumps(_plain(report.summary(registry)), ensure_ascii=False)
            levels = json.dumps(_plain(report.levels_frame().to_dict("records")), ensure_ascii=False)
            with engine.begin() as conn:
                conn.execute(insert(Whatif).values(
                    plan_id=plan_id, job_id=job_id, seed=seed, replications=wparams.replications,
                    params=json.dumps(params, ensure_ascii=False), summary=summary, levels=levels))
                finish_job(conn, job_id)
    except JobGone as exc:
        log.warning("what-if job %s abandoned: %s", job_id, exc)
    except Exception as exc:
        fail_job(engine, job_id, error_text(exc))
    finally:
        engine.dispose()
