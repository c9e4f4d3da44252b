"""The sampling day: check-ins, live status, the missed-household list (查漏补缺), follow-ups,
and the public site status residents see (畅通 / 忙碌 / 拥堵).

Roles: planners do everything; a `site` key checks in at its own sites (``home`` among its sites
lets a home-visit team record visits) and reads its sites' status; a `grid` key reads its grids'
status and missed households with phones, and records follow-up outcomes for them; a `viewer`
reads status and missed lists without contacts or phones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Annotated, Any

import numpy as np
from fastapi import (
    APIRouter,
    Depends,
    File,
    HTTPException,
    Path,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import StringConstraints
from sqlalchemy import select

from api.day import (
    DayCache,
    DayState,
    PlanGone,
    missed_record,
    missed_workbook,
    store_checkins,
    store_followups,
)
from api.deps import Caller, EngineDep, SessionDep, require_roles
from api.models import Plan
from api.schemas import PLAIN, QueryTime
from api.schemas_day import (
    CheckinRejection,
    CheckinsIn,
    CheckinsResult,
    FollowupsIn,
    FollowupsResult,
    MissedHousehold,
    MissedPublic,
    PublicSite,
    PublicSites,
    StatusPublic,
    StatusRow,
)
from sampler.day.ledger import Outcome, coverage, due_mask, missed, queue_status
from sampler.errors import InputError

__all__ = ["public_router", "router"]

router = APIRouter(prefix="/plans/{plan_id}", tags=["day"])
public_router = APIRouter(prefix="/public", tags=["public"])

PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CheckinDep = Annotated[Caller, Depends(require_roles("planner", "site"))]
StatusDep = Annotated[Caller, Depends(require_roles("planner", "viewer", "site", "grid"))]
MissedDep = Annotated[Caller, Depends(require_roles("planner", "viewer", "grid"))]
CallerOfGridDep = Annotated[Caller, Depends(require_roles("planner", "grid"))]
_CALLING_ROLES = ("planner", "grid")
_RECENT_MINUTES = 30


def _state(request: Request, session: SessionDep, engine: EngineDep, plan_id: int,
           details: bool = False) -> DayState:
    if session.get(Plan, plan_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
    cache: DayCache = request.app.state.day
    return cache.state(engine, plan_id, details)


def _store(request: Request, session: SessionDep, engine: EngineDep, plan_id: int, rows: Sequence[dict[str, Any]],
           key_id: int) -> dict[str, Any]:
    """Store check-ins in one thread hop; the plan row is read only when this process has not
    loaded its day yet (a plan deleted meanwhile fails the insert's foreign key: 404)."""
    cache: DayCache = request.app.state.day
    state = cache.cached(plan_id)
    if state is None:
        if session.get(Plan, plan_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
        state = cache.state(engine, plan_id, catch_up=False)  # the writer reads the new rows itself
    try:
        return store_checkins(engine, state, rows, key_id)
    except PlanGone:
        cache.forget(plan_id)
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan") from None


def _check_scope(caller: Caller, by: str, reading: str) -> None:
    """Site keys read by site and grid keys by grid only (403 otherwise)."""
    if caller.role == "site" and by != "site" or caller.role == "grid" and by != "grid":
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"a {caller.role} key reads {reading} by {caller.role}")


def _own_rows(caller: Caller, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The groups a site or grid key may see: its own sites or grids (every group for other roles)."""
    if caller.role == "site":
        return [r for r in rows if r["key"] in caller.sites]
    if caller.role == "grid":
        return [r for r in rows if r["key"] in caller.grids]
    return rows


def _at(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "at must carry its offset (RFC 3339), e.g. 2022-11-23T12:00:00+08:00")
    return at


@router.post("/checkins", response_model=CheckinsResult)
async def post_checkins(body: CheckinsIn, request: Request, session: SessionDep, engine: EngineDep,
                        caller: CheckinDep, plan_id: PlanId) -> CheckinsResult:
    """Record households sampled; idempotent on each check-in's device ``id``.

    A household sampled at another site than planned is accepted and counted there; a code or
    site not in the plan, a time outside the window or more people than the household has are
    rejected with the reason, and the rest of the batch is kept.
    """
    rows = [c.model_dump() for c in body.checkins]
    rejected: list[CheckinRejection] = []
    allowed_rows: list[dict[str, Any]] = []
    positions: list[int] = []
    for i, row in enumerate(rows):
        site = (row.get("site_id") or "").strip() or "home"
        if caller.role == "site" and site not in caller.sites:
            rejected.append(CheckinRejection(index=i, reason=f"this key may check in only at {', '.join(sorted(caller.sites))}"))
            continue
        allowed_rows.append(row)
        positions.append(i)
    answer = await run_in_threadpool(_store, request, session, engine, plan_id, allowed_rows, caller.key_id)
    rejected += [CheckinRejection(index=positions[r["index"]], reason=r["reason"]) for r in answer["rejected"]]
    return CheckinsResult(accepted=answer["accepted"], duplicates=answer["duplicates"],
                          rejected=sorted(rejected, key=lambda r: r.index))


@router.post("/checkins/import", response_model=CheckinsResult)
async def import_checkins(request: Request, session: SessionDep, engine: EngineDep,
                          caller: Annotated[Caller, Depends(require_roles("planner"))], plan_id: PlanId,
                          file: Annotated[UploadFile, File(description="CSV or XLSX export of a sampling system")]) -> CheckinsResult:
    """Import a sampling system's export (columns as the API's; English or Chinese headers)."""
    from sampler.day.files import read_checkins

    name = FsPath(file.filename or "checkins.csv").name
    suffix = FsPath(name).suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: give a .csv or .xlsx file")
    content = await file.read()
    state = await run_in_threadpool(_state, request, session, engine, plan_id)

    def parse() -> Sequence[dict[str, Any]]:
        with tempfile.TemporaryDirectory(prefix="sampler-import-") as tmp:
            path = FsPath(tmp) / f"upload{suffix}"
            path.write_bytes(content)
            try:
                return read_checkins(path, tz=state.day.start.tzinfo or dt.UTC)
            except InputError as exc:
                raise InputError([dataclasses.replace(issue, file=name) for issue in exc.issues]) from None

    rows = await run_in_threadpool(parse)
    answer = await run_in_threadpool(_store, request, session, engine, plan_id, rows, caller.key_id)
    return CheckinsResult(accepted=answer["accepted"], duplicates=answer["duplicates"],
                          rejected=[CheckinRejection(index=r["index"], reason=r["reason"]) for r in answer["rejected"]])


@router.get("/status", response_model=StatusPublic)
async def get_status(request: Request, session: SessionDep, engine: EngineDep, caller: StatusDep,
                     plan_id: PlanId, by: Annotated[str, Query(pattern="^(area|site|grid|compound|building)$")] = "area",
                     at: QueryTime | None = None) -> StatusPublic:
    """Coverage so far by area, site, grid, compound or building; ``due`` = slot ended by ``at``."""
    when = _at(at)
    _check_scope(caller, by, "status")
    state = await run_in_threadpool(_state, request, session, engine, plan_id)
    with state.lock:
        rows = coverage(state.day, state.ledger, by, when)
    rows = _own_rows(caller, rows)
    return StatusPublic(at=when, by=by, data=[StatusRow(**r) for r in rows])


def _missed_rows(state: DayState, caller: Caller, when: dt.datetime, grace_min: float,
                 grid: list[str] | None) -> tuple[list[int], list[str] | None]:
    grids = grid
    if caller.role == "grid":
        grids = [g for g in (grid or sorted(caller.grids)) if g in caller.grids]
        if grid and len(grids) < len(grid):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this key follows up only its own grids")
    with state.lock:
        idx = missed(state.day, state.ledger, when, grace_min, grids)
    return idx.tolist(), grids


@router.get("/missed", response_model=MissedPublic)
async def get_missed(request: Request, session: SessionDep, engine: EngineDep, caller: MissedDep, plan_id: PlanId,
                     at: QueryTime | None = None, grace_min: Annotated[float, Query(ge=0, le=24 * 60)] = 30.0,
                     grid: Annotated[list[Annotated[str, StringConstraints(pattern=PLAIN)]] | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
                     offset: Annotated[int, Query(ge=0)] = 0) -> MissedPublic:
    """Households whose slot ended over ``grace_min`` ago (all unsampled once the window is over)
    with no check-in and no outcome that closes them; contact and phone for planner and grid keys."""
    when = _at(at)
    state = await run_in_threadpool(_state, request, session, engine, plan_id, True)
    idx, _ = _missed_rows(state, caller, when, grace_min, grid)
    calls = caller.role in _CALLING_ROLES
    page = [MissedHousehold(**missed_record(state, i, calls)) for i in idx[offset:offset + limit]]
    return MissedPublic(at=when, data=page, count=len(idx))


@router.get("/missed.xlsx", response_class=Response,
            responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
async def get_missed_workbook(request: Request, session: SessionDep, engine: EngineDep, caller: CallerOfGridDep,
                              plan_id: PlanId, at: QueryTime | None = None,
                              grace_min: Annotated[float, Query(ge=0, le=24 * 60)] = 30.0,
                              grid: Annotated[list[Annotated[str, StringConstraints(pattern=PLAIN)]] | None, Query()] = None) -> Response:
    """The missed list as a workbook: one A4 sheet per grid, Chinese headers, for calling and ticking off."""
    when = _at(at)
    state = await run_in_threadpool(_state, request, session, engine, plan_id, True)
    idx, _ = _missed_rows(state, caller, when, grace_min, grid)
    content = await run_in_threadpool(missed_workbook, state, idx, when)
    return Response(content, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=missed-{plan_id}.xlsx",
                             "Cache-Control": "no-store"})


@router.post("/followups", response_model=FollowupsResult)
async def post_followups(body: FollowupsIn, request: Request, session: SessionDep, engine: EngineDep,
                         caller: CallerOfGridDep, plan_id: PlanId) -> FollowupsResult:
    """Record what grid workers found: coming now, at home (→ home visit), away, refused, sampled elsewhere."""
    state = await run_in_threadpool(_state, request, session, engine, plan_id)
    index = state.day.lookup("household_id")
    records: list[tuple[int, Outcome, str]] = []
    rejected: list[CheckinRejection] = []
    for i, f in enumerate(body.followups):
        h = index.get(f.household_id.strip(), -1)
        if h < 0:
            rejected.append(CheckinRejection(index=i, reason="household_id is not in this plan"))
            continue
        grid = str(state.day.building_grid[int(state.day.building[h])])
        if not caller.can_read_grid(grid):
            rejected.append(CheckinRejection(index=i, reason="this household is not in a grid of this key"))
            continue
        records.append((h, Outcome(f.outcome), f.note))
    recorded = await run_in_threadpool(store_followups, engine, state, records, caller.key_id)
    return FollowupsResult(recorded=recorded, rejected=rejected)


@public_router.get("/sites", response_model=PublicSites)
async def public_sites(request: Request, session: SessionDep, engine: EngineDep,
                       at: QueryTime | None = None) -> PublicSites:
    """Every site of the newest published plan with its queue status (no key, no personal data)."""
    when = _at(at)
    plan_id = session.scalar(select(Plan.id).where(Plan.published.is_(True)).order_by(Plan.id.desc()).limit(1))
    if plan_id is None:
        return PublicSites(at=when, data=[])
    state = await run_in_threadpool(_state, request, session, engine, int(plan_id))
    day = state.day
    minute = day.minute(when)
    out: list[PublicSite] = []
    with state.lock:
        started = due_mask(day, when + dt.timedelta(minutes=day.slot_minutes))  # slot started by `when`
        at_site = day.site >= 0
        due_people = np.bincount(day.site[at_site & started], weights=day.size[at_site & started],
                                 minlength=len(day.site_ids))
        sampled = state.bins[:-1].sum(axis=1)
        for k, site_id in enumerate(day.site_ids):
            if minute < 0 or minute > day.hours * 60:
                label, wait, queue = "未开放", 0, 0
            else:
                recent = state.sampled_since(k, minute, _RECENT_MINUTES) / _RECENT_MINUTES
                queue = int(max(0.0, due_people[k] - sampled[k]))
                planned = day.site_rate[k] if k < len(day.site_rate) else 0.0
                label, wait = queue_status(queue, recent, planned)
            out.append(PublicSite(site_id=site_id, name=day.site_names[k],
                                  lon=day.site_lon[k] if k < len(day.site_lon) else 0.0,
                                  lat=day.site_lat[k] if k < len(day.site_lat) else 0.0,
                                  status=label, wait_minutes=wait, queue_people=queue))  # type: ignore[arg-type]
    return PublicSites(at=when, data=out)

