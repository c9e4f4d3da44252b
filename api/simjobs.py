"""Simulation jobs: replay a stored plan with the simulator in a worker process.

The worker rebuilds the scenario and registry from the stored files, reads the plan from the
database, runs `sim.replicate.simulate` serially (the worker is already a separate process) and
stores summary.json, the coverage and queue charts and the small result tables in one transaction
with the job's success.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

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
from api.models import Job, Plan, Simulation, SimulationFile
from api.scratch import scratch_dir

__all__ = ["SIM_FILES", "run_simulation_job"]

log = logging.getLogger(__name__)
SIM_FILES = ("summary.json", "coverage.png", "queues.png", "coverage.csv", "sites.csv")


def run_simulation_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a simulation job."""
    engine = make_engine(database_url)
    try:
        from api.storage import read_plan_files
        from sampler.registry.read import load_registry
        from sim.output import write_simdir
        from sim.params import sim_params
        from sim.replicate import simulate

        start_job(engine, job_id)
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.plan_id is not None
            plan = session.get(Plan, job.plan_id)
            if plan is None or plan.scenario_id is None:
                raise LookupError(f"plan {job.plan_id} is gone or was not made from a stored scenario")
            plan_id, scenario_id, params = plan.id, plan.scenario_id, json.loads(job.params)
        with scratch_dir(Path(data_dir), f"sim{job_id}-") as tmp:
            scenario = restore_scenario(engine, scenario_id, tmp)
            registry = load_registry(scenario)
            files = read_plan_files(engine, plan_id)
            sim = sim_params(scenario)
            seed = int(params.get("seed") or 0)
            reps = int(params.get("replications") or sim.replications)
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.5 or done == total:
                    last[0] = now
                    progress_job(engine, job_id, "simulating", round(0.05 + 0.85 * done / total, 3))

            result = simulate(scenario, registry, files, sim, seed, reps, None, progress)
            progress_job(engine, job_id, "storing", 0.92)
            out = tmp / "sim"
            write_simdir(result, out, scenario.area)
            summary = (out / "summary.json").read_text(encoding="utf-8")
            with engine.begin() as conn:
                sim_id = conn.execute(insert(Simulation).values(
                    plan_id=plan_id, job_id=job_id, seed=seed, replications=reps, summary=summary,
                ).returning(Simulation.id)).scalar_one()
                for name in SIM_FILES:
                    if (out / name).is_file():
                        conn.execute(insert(SimulationFile).values(simulation_id=sim_id, name=name,
                                                                   content=(out / name).read_bytes()))
                finish_job(conn, job_id)
    except JobGone as exc:
        log.warning("simulation job %s abandoned: %s", job_id, exc)
    except Exception as exc:
        fail_job(engine, job_id, error_text(exc))
    finally:
        engine.dispose()

