"""The audit log, for planners: who exported or read residents' data, who changed keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import PlannerDep, SessionDep, newest_page
from api.models import AuditEntry
from api.schemas import PLAIN, AuditEntriesPublic, AuditEntryPublic, QueryTime

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=AuditEntriesPublic)
def list_audit(
    session: SessionDep,
    _caller: PlannerDep,
    action: Annotated[str | None, Query(max_length=40, pattern=PLAIN, description="exact action, e.g. export.sms")] = None,
    key_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    plan_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    scenario_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    since: Annotated[QueryTime | None, Query(description="RFC 3339; entries at or after")] = None,
    until: Annotated[QueryTime | None, Query(description="RFC 3339; entries before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> AuditEntriesPublic:
    """Audit entries, newest first, filtered by action, key, plan, scenario and time."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if key_id is not None:
        query = query.where(AuditEntry.key_id == key_id)
    if plan_id is not None:
        query = query.where(AuditEntry.plan_id == plan_id)
    if scenario_id is not None:
        query = query.where(AuditEntry.scenario_id == scenario_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since.replace(tzinfo=None))  # stored as naive UTC
    if until is not None:
        query = query.where(AuditEntry.at < until.replace(tzinfo=None))
    rows, count = newest_page(session, query, AuditEntry.id, limit, offset)
    return AuditEntriesPublic(data=[AuditEntryPublic.model_validate(r) for r in rows], count=count)
