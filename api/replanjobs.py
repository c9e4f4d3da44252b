"""Re-plan jobs: the rest of a stored plan's day from the check-ins in the database, stored as a
new plan whose parent is the plan it was made from (docs/replan.md).

The worker rebuilds the scenario and registry from the stored files, reads the parent plan
(`api.storage.read_plan_files`), the households checked in by ``at`` (`api.models.Checkin`) and
the newest follow-up outcome per household (`api.models.Followup`: at home → a home visit; away,
refused, sampled elsewhere → no new slot), runs `sampler.plan.replan.replan` and stores the new
plan, its workbook and the job's success in one transaction. Rounds (`POST /plans` with
``previous_plan_id``) are plan jobs (`api.jobs`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, select

from api.day import outcomes_by, registry_rows
from api.jobs import JobProgress, StoredPlanJob, progress_job, run_stored_plan_job, store_job_plan
from api.models import Checkin

__all__ = ["run_replan_job", "sampled_by"]


def sampled_by(engine: Engine, plan_id: int, registry_ids: npt.NDArray[Any], until: dt.datetime) -> npt.NDArray[np.bool_]:
    """Per registry household: checked in (any of its people) at or before ``until``."""
    sampled = np.zeros(len(registry_ids), dtype=bool)
    with engine.connect() as conn:
        households = conn.execute(select(Checkin.household).where(
            Checkin.plan_id == plan_id, Checkin.at <= until.astimezone(dt.UTC).replace(tzinfo=None))).scalars().all()
        if not households:
            return sampled
        rows = registry_rows(conn, plan_id, registry_ids)
    index = np.asarray(households, dtype=np.int64)
    index = index[(index >= 0) & (index < len(rows))]
    hit = rows[index]
    sampled[hit[hit >= 0]] = True
    return sampled


def run_replan_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a re-plan job."""
    run_stored_plan_job(database_url, job_id, data_dir, "replan", _replan)


def _replan(job: StoredPlanJob) -> None:
    from api.storage import read_plan_files
    from sampler.plan.replan import replan

    params = job.params
    at = dt.datetime.fromisoformat(params["at"])
    start = job.scenario.window.start_time.replace(tzinfo=at.tzinfo)
    minute = (at - start).total_seconds() / 60.0
    progress_job(job.engine, job.job_id, "reading check-ins", 0.05)
    files = read_plan_files(job.engine, job.plan_id)
    ids = np.asarray(job.registry.households.id, dtype=object)
    sampled = sampled_by(job.engine, job.plan_id, ids, at)
    outcomes = outcomes_by(job.engine, job.plan_id, ids)
    plan = replan(job.scenario, job.registry, files, sampled, minute, lead_minutes=float(params["lead_minutes"]),
                  close=params.get("close") or (), tables=params.get("tables") or {}, outcomes=outcomes,
                  progress=JobProgress(job.engine, job.job_id, 0.1, 0.8))
    store_job_plan(job.engine, job.job_id, plan, job.scenario_id, parent_id=job.plan_id)
