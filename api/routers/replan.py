"""Same-day re-plans of a stored plan (a background job that stores a new plan, the parent's child)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import select

from api.deps import PlannerDep, SessionDep, plan_with_scenario
from api.models import PLAN_TABLES, Job
from api.routers.scenarios import unprocessable
from api.schemas import JobPublic, SiteId, _rfc3339_text
from sampler.errors import InputIssue

__all__ = ["ReplanCreate", "router"]

router = APIRouter(tags=["replan"])
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
BodyTime = Annotated[dt.datetime, BeforeValidator(_rfc3339_text)]


class ReplanCreate(BaseModel):
    """Re-plan the rest of a plan's day at ``at`` (RFC 3339; without an offset the window's zone,
    China time; default now, held inside the window): households checked in by ``at`` stay as
    they are, nobody moved gets a slot before ``at`` + ``lead_minutes``; ``close`` closes sites
    from then on, ``tables`` sets a site's tables from then on (docs/replan.md)."""

    at: BodyTime | None = None
    lead_minutes: float = Field(default=30.0, ge=0, le=720)
    close: list[SiteId] = Field(default_factory=list, max_length=10_000)
    tables: dict[SiteId, Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=dict, max_length=10_000)


@router.post("/plans/{plan_id}/replan", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED,
             responses={409: {"description": "The plan's scenario is gone"}})
def create_replan(plan_id: Id, body: ReplanCreate, request: Request, session: SessionDep,
                  _caller: PlannerDep) -> JobPublic:
    """Start re-planning the rest of a plan's day from its stored check-ins; the job's ``plan_id``
    is the new plan once it succeeded (its ``parent_id`` is this plan)."""
    from api.day import time_in_window
    from api.jobs import owner_id
    from api.replanjobs import run_replan_job

    plan = plan_with_scenario(session, plan_id, "re-planned")
    at, start, end, inside = time_in_window(plan.summary, body.at)
    if not inside:
        raise unprocessable([InputIssue("request body", None, "at", at.isoformat(),
                                        f"give a time inside the plan's window {start.isoformat()} – "
                                        f"{end.isoformat()}, or none for now")])
    sites = PLAN_TABLES["sites"]
    known = set(session.execute(select(sites.c.site_id).where(sites.c.plan_id == plan_id)).scalars())
    issues = [InputIssue("request body", None, "close", s, "no such site in the plan; give ids from its sites")
              for s in body.close if s not in known]
    issues += [InputIssue("request body", None, f"tables.{s}", str(n), "no such site in the plan; give ids from its sites")
               for s, n in body.tables.items() if s not in known]
    if issues:
        raise unprocessable(issues)
    params = {"at": at.isoformat(), "lead_minutes": body.lead_minutes,
              "close": sorted(set(body.close)), "tables": dict(sorted(body.tables.items()))}
    job = Job(kind="replan", status="queued", stage="queued", scenario_id=plan.scenario_id, plan_id=plan_id,
              params=json.dumps(params, ensure_ascii=False), owner=owner_id())
    session.add(job)
    session.commit()
    request.app.state.jobs.submit(job.id, run_replan_job)
    return JobPublic.model_validate(job)
