"""Coverage over time on the sampling day: one call gives the console's curves by area, site,
grid or compound (due and sampled people at every ``step`` minutes of the window so far), instead
of one ``/status`` call per time point. Same roles as ``/status``: site keys read ``by=site`` for
their sites, grid keys ``by=grid`` for their grids."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import Caller, EngineDep, SessionDep, require_roles
from api.routers.day import _at, _check_scope, _own_rows, _state
from api.schemas import QueryTime
from sampler.day.series import coverage_series, series_minutes

__all__ = ["CoverageSeries", "CoverageSeriesRow", "router"]

router = APIRouter(prefix="/plans/{plan_id}", tags=["day"])
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusDep = Annotated[Caller, Depends(require_roles("planner", "viewer", "site", "grid"))]


class CoverageSeriesRow(BaseModel):
    """One group: its planned people and, per time point, due and sampled people and coverage."""

    key: str
    name: str
    planned_people: int
    due_people: list[int]
    sampled_people: list[int]
    coverage: list[float]


class CoverageSeries(BaseModel):
    """Time points (window start, every ``step_minutes``, up to ``at`` or the window's end) and the groups."""

    at: dt.datetime
    by: str
    step_minutes: int
    times: list[dt.datetime]
    data: list[CoverageSeriesRow]


@router.get("/coverage", response_model=CoverageSeries)
async def get_coverage(request: Request, session: SessionDep, engine: EngineDep, caller: StatusDep,
                       plan_id: PlanId, by: Annotated[str, Query(pattern="^(area|site|grid|compound)$")] = "grid",
                       step: Annotated[int, Query(ge=5, le=240, description="minutes between time points")] = 30,
                       at: QueryTime | None = None) -> CoverageSeries:
    """Due and sampled people by group at every ``step`` minutes from the window start up to ``at``.

    ``due`` at a time = people whose slot had ended by then (unplaced households once the window
    is over); ``sampled`` = people checked in by then, from the check-ins' own times (by site: at
    the site of each check-in). An ``at`` before the window gives no time points.
    """
    when = _at(at)
    _check_scope(caller, by, "coverage")
    state = await run_in_threadpool(_state, request, session, engine, plan_id)
    day = state.day
    minutes = series_minutes(day, day.minute(when), step)
    with state.lock:
        rows = coverage_series(day, state.ledger, state.checkin_log(), by, minutes)
    rows = _own_rows(caller, rows)
    times = [(day.start + dt.timedelta(minutes=float(m))).astimezone(dt.UTC) for m in minutes]
    return CoverageSeries(at=when, by=by, step_minutes=step, times=times, data=[CoverageSeriesRow(**r) for r in rows])
