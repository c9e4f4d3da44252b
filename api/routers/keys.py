"""API keys: create (the secret is shown once), list, revoke. Planner role only; every change audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, status
from sqlalchemy import func, select

from api.deps import EngineDep, PlannerDep, SessionDep, audit
from api.models import ApiKey
from api.schemas import KeyCreate, KeyCreated, KeyPublic, KeysPublic, Message
from api.security import BOOTSTRAP, create_key

__all__ = ["key_public", "router"]

router = APIRouter(prefix="/keys", tags=["keys"])


def key_public(key: ApiKey) -> KeyPublic:
    """The listed form of a key (no secret)."""
    return KeyPublic(id=key.id, name=key.name, role=key.role, sites=[s for s in key.sites.split(";") if s],
                     grids=[g for g in key.grids.split(";") if g], revoked=key.revoked, created_at=key.created_at)


@router.post("", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: Annotated[KeyCreate, Body()], session: SessionDep, engine: EngineDep,
                   caller: PlannerDep) -> KeyCreated:
    """Create a key; a `site` key needs the site ids it may use, a `grid` key its grids (the name "bootstrap" is reserved)."""
    if body.name == BOOTSTRAP:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"the name {BOOTSTRAP!r} is reserved for SAMPLER_BOOTSTRAP_PLANNER_KEY")
    key, token = create_key(session, body.role, body.name, body.sites if body.role == "site" else [],
                            grids=body.grids if body.role == "grid" else [])
    audit(engine, caller, "key.create", detail=f"key {key.id} role {key.role}")
    return KeyCreated(**key_public(key).model_dump(), key=token)


@router.get("", response_model=KeysPublic)
def list_api_keys(session: SessionDep, _caller: PlannerDep) -> KeysPublic:
    """Every key, newest first."""
    keys = session.scalars(select(ApiKey).order_by(ApiKey.id.desc())).all()
    count = session.scalar(select(func.count()).select_from(ApiKey)) or 0
    return KeysPublic(data=[key_public(k) for k in keys], count=count)


@router.delete("/{key_id}", response_model=Message)
def revoke_api_key(key_id: int = Path(ge=1, le=2**31 - 1), *, session: SessionDep, engine: EngineDep,
                   caller: PlannerDep) -> Message:
    """Revoke a key; it stops working at once."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such key")
    if key.id == caller.key_id:
        raise HTTPException(status.HTTP_409_CONFLICT, "a key cannot revoke itself; use another planner key")
    if key.role == "planner" and not key.revoked:
        live = session.scalar(select(func.count()).select_from(ApiKey).where(
            ApiKey.role == "planner", ApiKey.revoked.is_(False))) or 0
        if live <= 1:
            raise HTTPException(status.HTTP_409_CONFLICT, "this is the last planner key; create another first")
    key.revoked = True
    session.commit()
    audit(engine, caller, "key.revoke", detail=f"key {key_id} role {key.role}")
    return Message(detail=f"key {key_id} revoked")
