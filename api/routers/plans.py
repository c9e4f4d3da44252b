"""Plans: create (a background job), list, summary, site load, building slots, assignments,
home visits, unplaced; publish for the resident lookup; delete.

Staff views never show the digits the resident lookup checks: phones keep only their first three
digits (`hide_phone`). Home-visit reasons (health facts such as "special needs (disabled)") reach
only the planner role. Every read of a household list is audited (who, which plan, how many rows).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from sqlalchemy import Row, Select, delete, func, select, update

from api.deps import Caller, CallerDep, EngineDep, PlannerDep, ReaderDep, SessionDep, audit
from api.models import PLAN_TABLES, Job, Plan, Scenario
from api.schemas import (
    PLAIN,
    AssignmentPublic,
    AssignmentsPublic,
    BuildingSlotPublic,
    BuildingSlotsPublic,
    HomeVisitPublic,
    HomeVisitsPublic,
    JobPublic,
    Message,
    PlanCreate,
    PlanPublic,
    PlansPublic,
    SiteLoadPublic,
    SiteLoadsPublic,
    UnplacedPublic,
    UnplacedsPublic,
)
from api.storage import delete_plan as delete_plan_rows
from sampler.io.timefmt import HOUR_CHARS

__all__ = ["get_plan_row", "hide_phone", "router"]

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1, description="plan id")]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]
Text = Annotated[str | None, Query(max_length=200, pattern=PLAIN)]


def hide_phone(phone: str) -> str:
    """A phone for staff views: the first three digits only (13812341234 → 138********)."""
    phone = str(phone)
    if len(phone) < 8:
        return "****" if phone else ""
    return phone[:3] + "*" * (len(phone) - 3)


def plan_public(row: Plan | Row[Any]) -> PlanPublic:
    """The wire form of a plan (an ORM row or a Core row of the plans table)."""
    return PlanPublic(id=row.id, scenario_id=row.scenario_id, job_id=row.job_id, parent_id=row.parent_id, area=row.area,
                      households=row.households, published=row.published, created_at=row.created_at,
                      summary=json.loads(row.summary))


def get_plan_row(session: SessionDep, plan_id: int) -> Plan:
    """The plan row or 404."""
    row = session.get(Plan, plan_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
    return row


def _sites_filter(caller: CallerDep, site_id: str | None) -> list[str] | None:
    """Site ids the query is limited to: the requested one and, for site keys, only their own."""
    if site_id is not None and not caller.can_read_site(site_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this key may read only its own sites")
    if site_id is not None:
        return [site_id]
    return sorted(caller.sites) if caller.role == "site" else None


def _not_site(caller: CallerDep) -> None:
    if caller.role == "site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "site keys read only their sites' load, buildings and assignments")


def _page(engine: EngineDep, query: Select[Any], limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        rows = [dict(r._mapping) for r in conn.execute(query.limit(limit).offset(offset))]
    return rows, int(count)


@router.post("", response_model=JobPublic, status_code=status.HTTP_202_ACCEPTED)
def create_plan(body: PlanCreate, request: Request, session: SessionDep, _caller: PlannerDep) -> JobPublic:
    """Start planning a stored scenario in a worker process; poll the job for progress."""
    from api.jobs import owner_id

    scenario = session.get(Scenario, body.scenario_id)
    if scenario is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such scenario")
    if scenario.purged_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this scenario's personal data was purged; upload the registry again")
    if body.previous_plan_id is not None:
        previous = session.get(Plan, body.previous_plan_id)
        if previous is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such previous plan")
        if previous.area != scenario.area:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"the previous plan is of {previous.area!r}, the scenario of {scenario.area!r}: "
                                "the next round continues a plan of the same area")
    job = Job(kind="plan", status="queued", stage="queued", scenario_id=body.scenario_id,
              params=json.dumps({"seed": body.seed, "previous_plan_id": body.previous_plan_id}), owner=owner_id())
    session.add(job)
    session.commit()
    request.app.state.jobs.submit(job.id)
    return JobPublic.model_validate(job)


@router.get("", response_model=PlansPublic)
def list_plans(session: SessionDep, _caller: ReaderDep, limit: Limit = 100, offset: Offset = 0) -> PlansPublic:
    """Plans, newest first, with their summaries."""
    rows = session.scalars(select(Plan).order_by(Plan.id.desc()).limit(limit).offset(offset)).all()
    count = session.scalar(select(func.count()).select_from(Plan)) or 0
    return PlansPublic(data=[plan_public(r) for r in rows], count=count)


@router.get("/{plan_id}", response_model=PlanPublic)
def get_plan(session: SessionDep, _caller: ReaderDep, plan_id: PlanId) -> PlanPublic:
    """A plan's summary (plan.json)."""
    return plan_public(get_plan_row(session, plan_id))


@router.delete("/{plan_id}", response_model=Message)
def delete_plan(request: Request, session: SessionDep, engine: EngineDep, caller: PlannerDep,
                plan_id: PlanId) -> Message:
    """Delete a plan, all its rows and its simulations.

    One transaction that starts by deleting the plan row, so it holds the row (PostgreSQL) or the
    write lock (SQLite) before anything else: a publish or delete of the same plan at the same
    moment waits, then finds no plan (404), never half a plan.
    """
    session.close()  # the key check's connection goes back to the pool before this one is taken
    with engine.begin() as conn:
        if conn.execute(delete(Plan).where(Plan.id == plan_id)).rowcount != 1:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
        delete_plan_rows(conn, plan_id)
    request.app.state.published.invalidate()
    audit(engine, caller, "plan.delete", plan_id=plan_id)
    request.app.state.day.forget(plan_id)
    return Message(detail=f"plan {plan_id} deleted")


@router.post("/{plan_id}/publish", response_model=PlanPublic)
def publish_plan(request: Request, session: SessionDep, engine: EngineDep, _caller: PlannerDep, plan_id: PlanId,
                 published: bool = Query(True, description="false withdraws it")) -> PlanPublic:
    """Make this the plan residents look up (the newest published plan answers lookups).

    The update comes first in its transaction (row lock / write lock) and the answer is read in
    the same transaction, so a concurrent delete makes this a 404, not an error.
    """
    session.close()  # the key check's connection goes back to the pool before this one is taken
    with engine.begin() as conn:
        if conn.execute(update(Plan).where(Plan.id == plan_id).values(published=published)).rowcount != 1:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
        row = conn.execute(select(*Plan.__table__.c).where(Plan.id == plan_id)).one()
    request.app.state.published.invalidate()
    return plan_public(row)


@router.get("/{plan_id}/site-load", response_model=SiteLoadsPublic)
def get_site_load(session: SessionDep, engine: EngineDep, caller: CallerDep, plan_id: PlanId,
                  site_id: Text = None, hourly: bool = Query(True, description="sum slots per hour"),
                  limit: Limit = 100, offset: Offset = 0) -> SiteLoadsPublic:
    """People against capacity per site and hour (or per slot)."""
    get_plan_row(session, plan_id)
    t = PLAN_TABLES["site_load"]
    query = select(t.c.site_id, t.c.slot_start, t.c.people, t.c.capacity).where(t.c.plan_id == plan_id)
    sites = _sites_filter(caller, site_id)
    if sites is not None:
        query = query.where(t.c.site_id.in_(sites))
    if not hourly:
        rows, count = _page(engine, query.order_by(t.c.row), limit, offset)
        return SiteLoadsPublic(data=[SiteLoadPublic(site_id=r["site_id"], start=r["slot_start"], people=r["people"] or 0,
                                                    capacity=r["capacity"] or 0) for r in rows], count=count)
    hour = func.substr(t.c.slot_start, 1, HOUR_CHARS)
    grouped = (select(t.c.site_id, hour.label("hour"), func.sum(t.c.people).label("people"),
                      func.sum(t.c.capacity).label("capacity"), func.min(t.c.row).label("first"))
               .where(t.c.plan_id == plan_id).group_by(t.c.site_id, hour))
    if sites is not None:
        grouped = grouped.where(t.c.site_id.in_(sites))
    rows, count = _page(engine, grouped.order_by("first"), limit, offset)
    return SiteLoadsPublic(data=[SiteLoadPublic(site_id=r["site_id"], start=f"{r['hour']}:00", people=r["people"] or 0,
                                                capacity=r["capacity"] or 0) for r in rows], count=count)


@router.get("/{plan_id}/buildings", response_model=BuildingSlotsPublic)
def get_building_slots(session: SessionDep, engine: EngineDep, caller: CallerDep, plan_id: PlanId,
                       building_id: Text = None, site_id: Text = None,
                       limit: Limit = 100, offset: Offset = 0) -> BuildingSlotsPublic:
    """Per building: which site (or home visits) and slot, with households and people."""
    get_plan_row(session, plan_id)
    t = PLAN_TABLES["buildings"]
    cols = [c for c in t.c if c.name not in ("plan_id", "row")]
    query = select(*cols).where(t.c.plan_id == plan_id).order_by(t.c.row)
    if building_id is not None:
        query = query.where(t.c.building_id == building_id)
    sites = _sites_filter(caller, site_id)
    if sites is not None:
        query = query.where(t.c.site_id.in_(sites))
    rows, count = _page(engine, query, limit, offset)
    return BuildingSlotsPublic(data=[BuildingSlotPublic(**r) for r in rows], count=count)


def _contact_query(name: str, plan_id: int) -> tuple[Any, Select[Any]]:
    """Table ``name`` of a plan joined to its households' contacts, in file order: (table, query)."""
    t, c = PLAN_TABLES[name], PLAN_TABLES["contacts"]
    join = t.outerjoin(c, (c.c.plan_id == t.c.plan_id) & (c.c.household_id == t.c.household_id))
    cols = [col for col in t.c if col.name not in ("plan_id", "row")]
    query = select(*cols, c.c.contact, c.c.phone).select_from(join).where(t.c.plan_id == plan_id).order_by(t.c.row)
    return t, query


def _household_fields(r: dict[str, Any]) -> dict[str, Any]:
    """A household row as served: contact and hidden phone (first 3 digits), size 0 where blank."""
    return {**r, "contact": r.get("contact") or "", "phone": hide_phone(r.get("phone") or ""), "size": r["size"] or 0}


def _read_audit(engine: EngineDep, caller: Caller, action: str, plan_id: int, rows: int) -> None:
    if rows:
        audit(engine, caller, action, plan_id=plan_id, records=rows)


def _office_rows(session: SessionDep, engine: EngineDep, caller: CallerDep, plan_id: int, name: str,
                 limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """A page of a household table only office callers may read (home visits, unplaced); phones
    hidden; the read is audited."""
    _not_site(caller)
    get_plan_row(session, plan_id)
    _, query = _contact_query(name, plan_id)
    rows, count = _page(engine, query, limit, offset)
    _read_audit(engine, caller, f"read.{name}", plan_id, len(rows))
    return [_household_fields(r) for r in rows], count


@router.get("/{plan_id}/assignments", response_model=AssignmentsPublic)
def get_assignments(session: SessionDep, engine: EngineDep, caller: CallerDep, plan_id: PlanId,
                    site_id: Text = None, building_id: Text = None,
                    slot_start: str | None = Query(None, max_length=16, pattern=PLAIN, description="YYYY-MM-DD HH:MM"),
                    limit: Limit = 100, offset: Offset = 0) -> AssignmentsPublic:
    """Household assignments, paged, filterable by site, building and slot; phones masked."""
    get_plan_row(session, plan_id)
    t, query = _contact_query("assignments", plan_id)
    sites = _sites_filter(caller, site_id)
    if sites is not None:
        query = query.where(t.c.site_id.in_(sites))
    if building_id is not None:
        query = query.where(t.c.building_id == building_id)
    if slot_start is not None:
        query = query.where(t.c.slot_start == slot_start)
    rows, count = _page(engine, query, limit, offset)
    data = [AssignmentPublic(**{**_household_fields(r), "over_max_walk": bool(r["over_max_walk"])}) for r in rows]
    _read_audit(engine, caller, "read.assignments", plan_id, len(data))
    return AssignmentsPublic(data=data, count=count)


@router.get("/{plan_id}/home-visits", response_model=HomeVisitsPublic)
def get_home_visits(session: SessionDep, engine: EngineDep, caller: CallerDep, plan_id: PlanId,
                    limit: Limit = 100, offset: Offset = 0) -> HomeVisitsPublic:
    """Households sampled at home, by slot and team; phones masked; reasons for planners only."""
    rows, count = _office_rows(session, engine, caller, plan_id, "home_visits", limit, offset)
    hide = caller.role != "planner"
    return HomeVisitsPublic(data=[HomeVisitPublic(**{**r, "reason": "" if hide else r["reason"]}) for r in rows],
                            count=count)


@router.get("/{plan_id}/unplaced", response_model=UnplacedsPublic)
def get_unplaced(session: SessionDep, engine: EngineDep, caller: CallerDep, plan_id: PlanId,
                 limit: Limit = 100, offset: Offset = 0) -> UnplacedsPublic:
    """Households the plan could not place, with the reason; phones masked."""
    rows, count = _office_rows(session, engine, caller, plan_id, "unplaced", limit, offset)
    return UnplacedsPublic(data=[UnplacedPublic(**r) for r in rows], count=count)
