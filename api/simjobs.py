"""Simulation jobs: replay a stored plan with the simulator in a worker process.

The worker rebuilds the scenario and registry from the stored files, reads the plan from the
database, runs `sim.replicate.simulate` serially (the worker is already a separate process) and
stores summary.json, the coverage and queue charts and the small result tables in one transaction
with the job's success.
"""

from __future__ import annotations

from sqlalchemy import insert

from api.jobs import JobProgress, StoredPlanJob, finish_job, progress_job, run_stored_plan_job
from api.models import Simulation, SimulationFile

__all__ = ["SIM_FILES", "run_simulation_job"]
SIM_FILES = ("summary.json", "coverage.png", "queues.png", "coverage.csv", "sites.csv")


def run_simulation_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a simulation job."""
    run_stored_plan_job(database_url, job_id, data_dir, "simulation", _simulate)


def _simulate(job: StoredPlanJob) -> None:
    from api.storage import read_plan_files
    from sim.output import write_simdir
    from sim.params import sim_params
    from sim.replicate import simulate

    files = read_plan_files(job.engine, job.plan_id)
    sim = sim_params(job.scenario)
    seed = int(job.params.get("seed") or 0)
    reps = int(job.params.get("replications") or sim.replications)
    progress = JobProgress(job.engine, job.job_id, 0.05, 0.85).counter("simulating")
    result = simulate(job.scenario, job.registry, files, sim, seed, reps, None, progress)
    progress_job(job.engine, job.job_id, "storing", 0.92)
    out = job.tmp / "sim"
    write_simdir(result, out, job.scenario.area)
    summary = (out / "summary.json").read_text(encoding="utf-8")
    with job.engine.begin() as conn:
        sim_id = conn.execute(insert(Simulation).values(
            plan_id=job.plan_id, job_id=job.job_id, seed=seed, replications=reps, summary=summary,
        ).returning(Simulation.id)).scalar_one()
        for name in SIM_FILES:
            if (out / name).is_file():
                conn.execute(insert(SimulationFile).values(simulation_id=sim_id, name=name,
                                                           content=(out / name).read_bytes()))
        finish_job(conn, job.job_id)
