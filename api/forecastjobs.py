"""Forecast jobs: the rest of a stored plan's day, from the check-ins in the database.

The worker rebuilds the scenario and registry from the stored files, reads the plan and the plan's
check-ins (`api.models.Checkin`: household and site as row indices of the stored plan) from the
database, runs `sim.forecast.forecast` serially (the worker is already a separate process) and
stores forecast.json in the forecast's row in one transaction with the job's success.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine, select, update

from api.day import outcomes_by
from api.jobs import JobProgress, StoredPlanJob, finish_job, progress_job, run_stored_plan_job
from api.models import Checkin, Forecast
from sampler.day.ledger import Outcome

if TYPE_CHECKING:
    from sim.forecast import Checkins, ForecastDay

__all__ = ["run_forecast_job", "stored_checkins"]


def stored_checkins(engine: Engine, plan_id: int, day: ForecastDay) -> Checkins:
    """The plan's check-ins in the database, as `sim.forecast.Checkins` (registry rows, minutes)."""
    from api.day import registry_rows
    from sim.forecast import Checkins

    with engine.connect() as conn:
        registry_row = registry_rows(conn, plan_id, day.ids)
        rows = conn.execute(select(Checkin.household, Checkin.site, Checkin.at, Checkin.people)
                            .where(Checkin.plan_id == plan_id).order_by(Checkin.seq)).all()
    if not rows:
        return Checkins.none()
    household = np.array([r.household for r in rows], dtype=np.int64)
    at = [r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC) for r in rows]
    minute = np.array([(t - day.start).total_seconds() / 60.0 for t in at])
    row = np.where((household >= 0) & (household < len(registry_row)),
                   registry_row[np.clip(household, 0, max(len(registry_row) - 1, 0))], -1)
    keep = row >= 0
    return Checkins(row[keep].astype(np.int64), np.array([r.site for r in rows], dtype=np.int64)[keep],
                    minute[keep], np.array([r.people for r in rows], dtype=np.int64)[keep])


def run_forecast_job(database_url: str, job_id: int, data_dir: str) -> None:
    """Worker body of a forecast job."""
    run_stored_plan_job(database_url, job_id, data_dir, "forecast", _forecast)


def _forecast(job: StoredPlanJob) -> None:
    from api.storage import read_plan_files
    from sim.forecast import forecast, forecast_day
    from sim.params import sim_params

    forecast_id = int(job.params["forecast_id"])
    at = dt.datetime.fromisoformat(job.params["at"])
    sim = sim_params(job.scenario)
    day = forecast_day(job.scenario, job.registry, read_plan_files(job.engine, job.plan_id), sim)
    checkins = stored_checkins(job.engine, job.plan_id, day)
    outcomes = outcomes_by(job.engine, job.plan_id, np.asarray(job.registry.households.id, dtype=object))
    closed = np.isin(outcomes, [o.value for o in Outcome if o.closes])
    minute = min(max((at - day.start).total_seconds() / 60.0, 0.0), day.end_minute)
    progress = JobProgress(job.engine, job.job_id, 0.1, 0.85)
    progress_job(job.engine, job.job_id, "forecasting", 0.1)
    result = forecast(day, checkins, minute, sim, int(job.params.get("seed") or 0),
                      int(job.params.get("replications") or 20), progress=progress.counter("forecasting"),
                      closed=closed)
    payload = json.dumps(result.to_json(), ensure_ascii=False)
    with job.engine.begin() as conn:
        conn.execute(update(Forecast).where(Forecast.id == forecast_id).values(result=payload))
        finish_job(conn, job.job_id)
