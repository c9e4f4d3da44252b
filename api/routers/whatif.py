"""What-if staffing on a stored plan's scenario (a background job, like simulations): how many
tables, registrars, home-visit teams, relief teams or lab capacity meet the window target.

Bounded so that one request cannot occupy the service's job worker for hours: at most
`MAX_LEVELS` levels in the grid of the ranges, `MAX_REPLICATIONS` replications per level and
`MAX_MINUS_ONE` minus-one sites. Results are the rows of `sampler whatif`'s whatif.csv and its
summary.json, as JSON.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import PlannerDep, SessionDep, ViewerDep, newest_page, plan_with_scenario
from api.models import Job, Whatif
from api.schemas import JobPublic
from sampler.errors import InputError, InputIssue
from sim.whatif.axes import AXES, parse_range

__all__ = ["MAX_LEVELS", "MAX_MINUS_ONE", "MAX_REPLICATIONS", "WhatifCreate", "WhatifPublic", "WhatifsPublic",
           "router"]

router = APIRouter(tags=["whatif"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
MAX_LEVELS = 24
MAX_REPLICATIONS = 20
MAX_MINUS_ONE = 5
REQUEST = "request body"


class WhatifCreate(BaseModel):
    """A what-if run: staff ranges by axis (``START:STOP:STEP`` or ``v1,v2``), mode, replications."""

    ranges: dict[str, str] = Field(
        default_factory=lambda: {"tables": "0.5:1.5:0.1"}, max_length=len(AXES),
        description="axis → range; axes: " + "; ".join(f"{k}: {v}" for k, v in AXES.items()),
        examples=[{"tables": "0.5:1.5:0.1"}, {"tables": "0.8,1", "home_teams": "4,6"}])
    mode: Literal["search", "sweep", "both"] = "search"
    replications: int = Field(default=5, ge=1, le=MAX_REPLICATIONS)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    target_prob: float | None = Field(default=None, gt=0, le=1, description="default: the whatif section (0.95)")
    max_p95_wait_min: float | None = Field(default=None, gt=0, le=24 * 60, description="default: the whatif section (30)")
    minus_one_sites: int = Field(default=0, ge=0, le=MAX_MINUS_ONE)


class WhatifPublic(BaseModel):
    """A finished what-if run: the request, summary.json and one row per level simulated."""

    id: int
    plan_id: int
    job_id: int | None
    seed: int
    replications: int
    params: dict[str, object]
    summary: dict[str, object]
    levels: list[dict[str, object]]


class WhatifsPublic(BaseModel):
    data: list[WhatifPublic]
    count: int


def _checked_ranges(ranges: dict[str, str]) -> None:
    """Every range parses and their grid has at most MAX_LEVELS levels; InputError (422) otherwise."""
    problems: list[InputIssue] = []
    sizes: list[int] = []
    for axis, text in ranges.items():
        try:
            sizes.append(len(parse_range(axis, text, REQUEST)))
        except InputError as exc:
            problems += [InputIssue(REQUEST, None, f"ranges.{axis}", i.value, i.fix) for i in exc.issues]
    if not ranges:
        problems.append(InputIssue(REQUEST, None, "ranges", "{}", 'give at least one axis, e.g. {"tables": "0.5:1.5:0.1"}'))
    if not problems and math.prod(sizes) > MAX_LEVELS:
        problems.append(InputIssue(REQUEST, None, "ranges", json.dumps(ranges, ensure_ascii=False),
                                   f"that is {math.prod(sizes)} levels; the service runs at most {MAX_LEVELS} "
                                   "(use larger steps or fewer axes, or `sampler whatif` on a workstation)"))
    if problems:
        raise InputError(problems)


def _public(row: Whatif) -> WhatifPublic:
    return WhatifPublic(id=row.id, plan_id=row.plan_id, job_id=row.job_id, seed=row.seed, replications=row.replications,
                        params=json.loads(row.params), summary=json.loads(row.summary), levels=json.loads(row.levels))


@router.post("/plans/{plan_id}/whatif", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def create_whatif(plan_id: Id, body: WhatifCreate, request: Request, session: SessionDep,
                  _caller: PlannerDep) -> JobPublic:
    """Start a what-if run on the plan's scenario in a worker process; poll the job, then read /whatifs.

    Every level that changes capacity is re-planned and simulated ``replications`` times under
    common random numbers (as `sampler whatif`); ``search`` finds the minimum staffing that meets
    the target, ``sweep`` simulates every level of the ranges' grid.
    """
    from api.jobs import owner_id
    from api.whatifjobs import run_whatif_job

    plan = plan_with_scenario(session, plan_id, "re-planned")
    _checked_ranges(body.ranges)
    job = Job(kind="whatif", status="queued", stage="queued", scenario_id=plan.scenario_id, plan_id=plan_id,
              params=json.dumps(body.model_dump(), ensure_ascii=False), owner=owner_id())
    session.add(job)
    session.commit()
    request.app.state.jobs.submit(job.id, run_whatif_job)
    return JobPublic.model_validate(job)


@router.get("/whatifs", response_model=WhatifsPublic)
def list_whatifs(session: SessionDep, _caller: ViewerDep,
                 plan_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 20,
                 offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> WhatifsPublic:
    """What-if runs, newest first, optionally of one plan."""
    query = select(Whatif)
    if plan_id is not None:
        query = query.where(Whatif.plan_id == plan_id)
    rows, count = newest_page(session, query, Whatif.id, limit, offset)
    return WhatifsPublic(data=[_public(r) for r in rows], count=count)


@router.get("/whatifs/{whatif_id}", response_model=WhatifPublic)
def get_whatif(whatif_id: Id, session: SessionDep, _caller: ViewerDep) -> WhatifPublic:
    """One what-if run: summary (minimum staffing, bottlenecks, simulations saved) and its levels."""
    row = session.get(Whatif, whatif_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such what-if run")
    return _public(row)
