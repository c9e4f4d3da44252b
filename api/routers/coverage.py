"""Coverage over time on the sampling day: one call gives the console's curves by area, site,
grid or compound (due and sampled people at every ``step`` minutes of the window so far), instead
of one ``/status`` call per time point. Same roles as ``/status``: site keys read ``by=site`` for
their sites, grid keys ``by=grid`` for their grids."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import Caller, EngineDep, SessionDep, require_roles
from api.routers.day import _at, _check_scope, _own_rows, _state
from api.schemas import QueryTime
from sampler.day.series import coverage_series, series_minutes

__all__ = ["CoverageSeries", "CoverageSeriesRow", "RoundsCoverage", "router"]

router = APIRouter(prefix="/plans/{plan_id}", tags=["day"])
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusDep = Annotated[Caller, Depends(require_roles("planner", "viewer", "site", "grid"))]
RoundsDep = Annotated[Caller, Depends(require_roles("planner", "viewer"))]


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


class RoundCoverage(BaseModel):
    """One sampling day of the plan's chain: its plans (the day's first plan and its re-plans)."""

    round: int
    plan_ids: list[int]
    households: int
    sampled_households: int
    coverage: float


class AcrossRounds(BaseModel):
    """Over the households every round lists: sampled in every round, in some, in none."""

    rounds: int
    households: int
    sampled_every_round: int
    sampled_some_round: int
    never_sampled: int
    coverage_every_round: float


class RoundsCoverage(BaseModel):
    rounds: list[RoundCoverage]
    across: AcrossRounds


def _chain(engine: Any, plan_id: int) -> list[tuple[int, bool]]:
    """The plan and its ancestors, oldest first, each with whether it is a same-day re-plan."""
    import json

    from sqlalchemy import select

    from api.models import Plan

    chain: list[tuple[int, bool]] = []
    seen: set[int] = set()
    current: int | None = plan_id
    with engine.connect() as conn:
        while current is not None and current not in seen:
            row = conn.execute(select(Plan.id, Plan.parent_id, Plan.summary).where(Plan.id == current)).first()
            if row is None:
                break
            seen.add(row.id)
            chain.append((row.id, "replan" in json.loads(row.summary)))
            current = row.parent_id
    return chain[::-1]


def _rounds(engine: Any, plan_id: int) -> dict[str, Any]:
    import numpy as np
    from sqlalchemy import select

    from api.day import stored_household_ids
    from api.models import Checkin
    from sampler.day.rounds import Round, round_coverage

    groups: list[list[int]] = []
    for pid, same_day in _chain(engine, plan_id):
        if same_day and groups:
            groups[-1].append(pid)
        else:
            groups.append([pid])
    rounds = []
    with engine.connect() as conn:
        for number, plans in enumerate(groups, start=1):
            sampled = []
            listed = np.zeros(0, dtype=object)
            for pid in plans:
                listed = stored_household_ids(conn, pid)
                index = np.asarray(conn.execute(select(Checkin.household).where(Checkin.plan_id == pid))
                                   .scalars().all(), dtype=np.int64)
                index = index[(index >= 0) & (index < len(listed))]
                sampled.append(listed[index])
            rounds.append(Round(number, tuple(plans), listed,
                                np.concatenate(sampled) if sampled else np.zeros(0, dtype=object)))
    return round_coverage(rounds)


@router.get("/rounds", response_model=RoundsCoverage)
async def get_rounds(session: SessionDep, engine: EngineDep, _caller: RoundsDep, plan_id: PlanId) -> RoundsCoverage:
    """Coverage per round and across rounds of the chain that ends at this plan: each round is a
    sampling day (its first plan and that day's re-plans, linked by ``parent_id``); households are
    matched across rounds by id, and a household is sampled in a round when any plan of it has a
    check-in of that household. Counts only: no personal data."""
    from api.routers.plans import get_plan_row

    get_plan_row(session, plan_id)
    return RoundsCoverage.model_validate(await run_in_threadpool(_rounds, engine, plan_id))
