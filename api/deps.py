"""FastAPI dependencies as typed aliases: database session, engine, settings, caller's key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from api.audit import client_of
from api.limits import KeyLimits
from api.models import Plan, Scenario
from api.security import verify_key
from api.settings import Settings

__all__ = [
    "Caller",
    "CallerDep",
    "EngineDep",
    "PlannerDep",
    "ReaderDep",
    "ViewerDep",
    "SessionDep",
    "SettingsDep",
    "audit",
    "get_session",
    "require_roles",
]

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key: smp_<id>_<secret>")


def get_session(request: Request) -> Iterator[Session]:
    """One database session per request."""
    with request.app.state.sessions() as session:
        yield session


def get_engine(request: Request) -> Engine:
    """The application's engine (bulk reads and writes go through Core)."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id, role, (site role) the sites it may read, name and address."""

    key_id: int
    role: str
    sites: frozenset[str]
    name: str = ""
    client: str = ""
    grids: frozenset[str] = frozenset()

    def can_read_site(self, site_id: str) -> bool:
        return self.role != "site" or site_id in self.sites

    def can_read_grid(self, grid: str) -> bool:
        return self.role != "grid" or grid in self.grids


def get_caller(request: Request, session: SessionDep, token: Annotated[str | None, Security(_header)]) -> Caller:
    """The caller's key, or 401; 429 for a client that sent too many wrong keys this minute."""
    limits: KeyLimits = request.app.state.key_limits
    client = client_of(request)
    if token:
        wait = limits.blocked(client)
        if wait:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                                f"too many wrong API keys from this address; retry in {wait} s",
                                headers={"Retry-After": str(wait)})
    key = verify_key(session, token) if token else None
    if key is None:
        if token:
            limits.failed(client)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid API key (header X-API-Key)",
                            headers={"WWW-Authenticate": "ApiKey"})
    return Caller(key.id, key.role, frozenset(s for s in key.sites.split(";") if s), key.name, client,
                  frozenset(g for g in (key.grids or "").split(";") if g))


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_roles(*roles: str) -> Callable[[Caller], Caller]:
    """A dependency admitting only the given roles (403 otherwise)."""

    def check(caller: CallerDep) -> Caller:
        if caller.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {' or '.join(roles)}")
        return caller

    return check


PlannerDep = Annotated[Caller, Depends(require_roles("planner"))]
ReaderDep = Annotated[Caller, Depends(require_roles("planner", "viewer", "site"))]
ViewerDep = Annotated[Caller, Depends(require_roles("planner", "viewer"))]


def audit(engine: Engine, caller: Caller, action: str, **fields: object) -> None:
    """Record ``action`` by ``caller`` in the audit log (fields: plan_id, scenario_id, records, detail)."""
    from api.audit import record

    record(engine, action, key_id=caller.key_id, key_name=caller.name, role=caller.role, client=caller.client,
           **fields)  # type: ignore[arg-type]


def newest_page(session: Session, query: Select[Any], id_column: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of ``query``'s rows, newest (highest ``id_column``) first, and how many rows it has."""
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(limit).offset(offset)).all())
    return rows, session.scalar(select(func.count()).select_from(query.subquery())) or 0


def plan_with_scenario(session: Session, plan_id: int, cannot: str) -> Plan:
    """A plan whose stored scenario still exists (jobs on a plan restore it): 404 without the plan,
    409 when it was not made from a stored scenario or that scenario was deleted or purged, the
    message ending in what ``cannot`` be done again."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such plan")
    if plan.scenario_id is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this plan was not made from a stored scenario")
    scenario = session.get(Scenario, plan.scenario_id)
    if scenario is None or scenario.purged_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"this plan's scenario was deleted or purged; it cannot be {cannot}")
    return plan
