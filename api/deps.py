"""FastAPI dependencies as typed aliases: database session, engine, settings, caller's key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from sqlalchemy.orm import Session

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
    """Who is calling: the key's id, role and (site role) the sites it may read."""

    key_id: int
    role: str
    sites: frozenset[str]

    def can_read_site(self, site_id: str) -> bool:
        return self.role != "site" or site_id in self.sites


def get_caller(session: SessionDep, token: Annotated[str | None, Security(_header)]) -> Caller:
    """The caller's key, or 401."""
    key = verify_key(session, token) if token else None
    if key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid API key (header X-API-Key)",
                            headers={"WWW-Authenticate": "ApiKey"})
    return Caller(key.id, key.role, frozenset(s for s in key.sites.split(";") if s))


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
