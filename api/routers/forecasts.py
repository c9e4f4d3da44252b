"""Forecasts: the rest of a plan's sampling day from its check-ins (a background job), and results."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import select

from api.deps import PlannerDep, SessionDep, ViewerDep, newest_page, plan_with_scenario
from api.models import Forecast, Job, Plan, utcnow
from api.schemas import JobPublic, UtcTime, _rfc3339_text

__all__ = ["ForecastCreate", "ForecastJobPublic", "ForecastPublic", "ForecastsPublic", "router"]

router = APIRouter(tags=["forecasts"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
BodyTime = Annotated[dt.datetime, BeforeValidator(_rfc3339_text)]


class ForecastCreate(BaseModel):
    """Forecast a plan's day from ``at`` (RFC 3339; without an offset: the window's zone, China
    time; default now, clamped into the window) with ``replications`` runs from ``seed``."""

    at: BodyTime | None = None
    replications: int = Field(default=20, ge=1, le=200)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class ForecastJobPublic(JobPublic):
    """The job that computes the forecast, and the forecast's id (GET /forecasts/{forecast_id})."""

    forecast_id: int


class ForecastPublic(BaseModel):
    """A forecast: its job's status and, once it succeeded, the result (forecast.json)."""

    id: int
    plan_id: int
    job_id: int | None
    status: str
    stage: str
    progress: float
    error: str
    at: UtcTime
    seed: int
    replications: int
    created_at: UtcTime
    result: dict[str, Any] | None


class ForecastsPublic(BaseModel):
    data: list[ForecastPublic]
    count: int


def _public(row: Forecast, job: Job | None) -> ForecastPublic:
    result = json.loads(row.result) if row.result else None
    if job is not None:
        state, stage, progress, error = job.status, job.stage, job.progress, job.error
    else:  # the job row is gone: the result says whether it finished
        state, stage, progress, error = ("succeeded", "done", 1.0, "") if result else ("failed", "", 0.0, "job gone")
    return ForecastPublic(id=row.id, plan_id=row.plan_id, job_id=row.job_id, status=state, stage=stage,
                          progress=progress, error=error, at=row.at, seed=row.seed, replications=row.replications,
                          created_at=row.created_at, result=result)


@router.post("/plans/{plan_id}/forecasts", response_model=ForecastJobPublic, status_code=status.HTTP_202_ACCEPTED)
def create_forecast(plan_id: Id, body: ForecastCreate, request: Request, session: SessionDep,
                    _caller: PlannerDep) -> ForecastJobPublic:
    """Start forecasting the rest of a plan's day from the check-ins stored for it; poll the job or
    GET /forecasts/{forecast_id}."""
    from api.day import time_in_window
    from api.forecastjobs import run_forecast_job
    from api.jobs import owner_id

    plan = plan_with_scenario(session, plan_id, "forecast")
    at, start, end, inside = time_in_window(plan.summary, body.at)
    if not inside:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"at {at.isoformat()} is outside the plan's window {start.isoformat()} – "
                            f"{end.isoformat()}: give a time inside it, or none for now")
    job = Job(kind="forecast", status="queued", stage="queued", scenario_id=plan.scenario_id, plan_id=plan_id,
              params="{}", owner=owner_id())
    session.add(job)
    session.flush()
    row = Forecast(plan_id=plan_id, job_id=job.id, at=at.astimezone(dt.UTC), seed=body.seed, replications=body.replications,
                   result="", created_at=utcnow())
    session.add(row)
    session.flush()
    job.params = json.dumps({"forecast_id": row.id, "at": at.isoformat(), "replications": body.replications,
                             "seed": body.seed})
    session.commit()
    request.app.state.jobs.submit(job.id, run_forecast_job)
    return ForecastJobPublic(**JobPublic.model_validate(job).model_dump(), forecast_id=row.id)


@router.get("/plans/{plan_id}/forecasts", response_model=ForecastsPublic)
def list_forecasts(plan_id: Id, session: SessionDep, _caller: ViewerDep,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> ForecastsPublic:
    """A plan's forecasts, newest first."""
    if session.get(Plan, plan_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
    query = select(Forecast).where(Forecast.plan_id == plan_id)
    rows, count = newest_page(session, query, Forecast.id, limit, offset)
    return ForecastsPublic(data=[_public(r, session.get(Job, r.job_id) if r.job_id else None) for r in rows],
                           count=count)


@router.get("/forecasts/{forecast_id}", response_model=ForecastPublic)
def get_forecast(forecast_id: Id, session: SessionDep, _caller: ViewerDep) -> ForecastPublic:
    """A forecast's status and, once done, its result: at, replications, sites, grids, late_sites."""
    row = session.get(Forecast, forecast_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such forecast")
    return _public(row, session.get(Job, row.job_id) if row.job_id else None)
