"""What-if jobs: `sampler whatif` on a stored plan's scenario, in a worker process.

The worker rebuilds the scenario and registry from the stored files, runs the what-if search or
sweep serially (the worker is already a separate process; results never depend on the executor)
and stores summary.json and the whatif.csv rows as JSON in one transaction with the job's
success. The request was bounded when the job was made (`api.routers.whatif`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from sqlalchemy import insert

from api.jobs import JobProgress, StoredPlanJob, finish_job, progress_job, run_stored_plan_job
from api.models import Whatif

__all__ = ["run_whatif_job"]


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
    run_stored_plan_job(database_url, job_id, data_dir, "what-if", _whatif)


def _whatif(job: StoredPlanJob) -> None:
    from sampler.executors import SerialExecutor
    from sim.params import sim_params
    from sim.whatif.axes import parse_range
    from sim.whatif.levels import make_base
    from sim.whatif.params import whatif_params
    from sim.whatif.run import run_whatif

    params = job.params
    sim = sim_params(job.scenario)
    wparams = whatif_params(job.scenario, {
        "replications": params["replications"], "target_prob": params.get("target_prob"),
        "max_p95_wait_min": params.get("max_p95_wait_min"), "minus_one_sites": params["minus_one_sites"]})
    ranges = {axis: parse_range(axis, text, "request") for axis, text in params["ranges"].items()}
    seed, mode = int(params["seed"]), str(params["mode"])
    base = make_base(job.scenario, job.registry, sim)
    progress = JobProgress(job.engine, job.job_id, 0.05, 0.85).counter("simulating levels")
    report = run_whatif(job.scenario, job.registry, sim, wparams, seed, mode, ranges, base, SerialExecutor(),
                        progress, "1 service worker")
    progress_job(job.engine, job.job_id, "storing", 0.95)
    summary = json.dumps(_plain(report.summary(job.registry)), ensure_ascii=False)
    levels = json.dumps(_plain(report.levels_frame().to_dict("records")), ensure_ascii=False)
    with job.engine.begin() as conn:
        conn.execute(insert(Whatif).values(
            plan_id=job.plan_id, job_id=job.job_id, seed=seed, replications=wparams.replications,
            params=json.dumps(params, ensure_ascii=False), summary=summary, levels=levels))
        finish_job(conn, job.job_id)
