"""Forecast jobs: the rest of a stored plan's day, from the check-ins in the database.

The worker rebuilds the scenario and registry from the stored files, reads the plan and the plan's
check-ins (`api.models.Checkin`: household and site as row indices of the stored plan) from the
database, runs `sim.forecast.forecast` serially (the worker is already a separate process) and
stores forecast.json in the forecast's row in one transaction with the job's success.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, select, update

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
from api.models import Checkin, Forecast, Job, Plan
from api.scratch import scratch_dir
from sampler.day.ledger import CHINA

if TYPE_CHECKING:
    from sim.forecast import Checkins, ForecastDay

__all__ = ["plan_window", "run_forecast_job", "stored_checkins"]

log = logging.getLogger(__name__)


def plan_window(summary_text: str, tz: dt.tzinfo = CHINA) -> tuple[dt.datetime, dt.datetime]:
    """(start, end) of a stored plan's window, timezone-aware (the window's clock is China time)."""
    window = json.loads(summary_text)["window"]
    start = dt.datetime.strptime(window["start"], "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    hours = window["slots"] * window["slot_minutes"] / 60.0 if "slots" in window else float(window["hours"])
    return start, start + dt.timedelta(hours=hours)


def stored_checkins(engine: Engine, plan_id: int, day: ForecastDay) -> Checkins:
    """The plan's check-ins in the database, as `sim.forecast.Checkins` (registry rows, minutes)."""
    from api.day import _columns
    from sim.forecast import Checkins

    with engine.connect() as conn:
        (a_id,) = _columns(conn, "assignments", plan_id, "household_id")
        (u_id,) = _columns(conn, "unplaced", plan_id, "household_id")
        rows = conn.execute(select(Checkin.household, Checkin.site, Checkin.at, Checkin.people)
                            .where(Checkin.plan_id == plan_id).order_by(Checkin.seq)).all()
    if not rows:
        return Checkins.none()
    import pandas as pd

    stored_ids = np.concatenate([a_id, u_id]).astype(str)
    registry_row = pd.Index(day.ids.astype(str)).get_indexer(stored_ids)
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
    engine = make_engine(database_url)
    try:
        from api.storage import read_plan_files
        from sampler.registry.read import load_registry
        from sim.forecast import forecast, forecast_day
        from sim.params import sim_params

        start_job(engine, job_id)
        with session_factory(engine)() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.plan_id is not None
            plan = session.get(Plan, job.plan_id)
            if plan is None or plan.scenario_id is None:
                raise LookupError(f"plan {job.plan_id} is gone or was not made from a stored scenario")
            params: dict[str, Any] = json.loads(job.params)
            plan_id, scenario_id = plan.id, plan.scenario_id
        forecast_id = int(params["forecast_id"])
        at = dt.datetime.fromisoformat(params["at"])
        with scratch_dir(Path(data_dir), f"forecast{job_id}-") as tmp:
            scenario = restore_scenario(engine, scenario_id, tmp)
            registry = load_registry(scenario)
            sim = sim_params(scenario)
            day = forecast_day(scenario, registry, read_plan_files(engine, plan_id), sim)
            checkins = stored_checkins(engine, plan_id, day)
            minute = min(max((at - day.start).total_seconds() / 60.0, 0.0), day.end_minute)
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.5 or done == total:
                    last[0] = now
                    progress_job(engine, job_id, "forecasting", round(0.1 + 0.85 * done / total, 3))

            progress_job(engine, job_id, "forecasting", 0.1)
            result = forecast(day, checkins, minute, sim, int(params.get("seed") or 0),
                              int(params.get("replications") or 20), progress=progress)
            payload = json.dumps(result.to_json(), ensure_ascii=False)
            with engine.begin() as conn:
                conn.execute(update(Forecast).where(Forecast.id == forecast_id).values(result=payload))
                finish_job(conn, job_id)
    except JobGone as exc:
        log.warning("forecast job %s abandoned: %s", job_id, exc)
    except Exception as exc:
        fail_job(engine, job_id, error_text(exc))
    finally:
        engine.dispose()
