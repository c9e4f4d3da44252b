"""API keys: creation, salted HMAC-SHA256 storage and verification, the operator's bootstrap key."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiKey

__all__ = ["BOOTSTRAP", "create_key", "ensure_bootstrap_key", "hash_secret", "verify_key"]

BOOTSTRAP = "bootstrap"  # the name of the operator-chosen key (reserved)
_TOKEN = re.compile(r"smp_(\d{1,12})_([A-Za-z0-9_\-]{16,100})")


def hash_secret(salt: str, secret: str) -> str:
    """HMAC-SHA256 of the secret keyed with the key's own salt, hex."""
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create_key(session: Session, role: str, name: str = "", sites: list[str] | None = None,
               secret: str | None = None, grids: list[str] | None = None) -> tuple[ApiKey, str]:
    """Store a new key and return it with the full token (shown once, never stored)."""
    salt = secrets.token_hex(16)
    raw = secret or secrets.token_urlsafe(24)
    key = ApiKey(name=name, role=role, sites=";".join(sites or []), grids=";".join(grids or []), salt=salt,
                 key_hash=hash_secret(salt, raw), revoked=False)
    session.add(key)
    session.flush()
    token = raw if secret is not None else f"smp_{key.id}_{raw}"
    session.commit()
    return key, token


def verify_key(session: Session, token: str) -> ApiKey | None:
    """The live key matching ``token``, or None."""
    match = _TOKEN.fullmatch(token)
    if match:
        key = session.get(ApiKey, int(match.group(1)))
        if key is not None and not key.revoked and hmac.compare_digest(
                key.key_hash, hash_secret(key.salt, match.group(2))):
            return key
        return None
    # Keys chosen by the operator (bootstrap) carry no id: check the few keys that have none.
    for key in session.scalars(select(ApiKey).where(ApiKey.revoked.is_(False), ApiKey.name == BOOTSTRAP)):
        if hmac.compare_digest(key.key_hash, hash_secret(key.salt, token)):
            return key
    return None


def ensure_bootstrap_key(session: Session, token: str | None) -> tuple[int | None, list[int]]:
    """Make ``token`` the one live bootstrap planner key; return (id created or None, ids revoked).

    The key is created when no live bootstrap key has this value; every other live bootstrap key
    (an earlier value of SAMPLER_BOOTSTRAP_PLANNER_KEY) is revoked, so changing the variable
    replaces the key instead of adding one. Without a token nothing changes.
    """
    if not token:
        return None, []
    live = session.scalars(select(ApiKey).where(ApiKey.name == BOOTSTRAP, ApiKey.revoked.is_(False))).all()
    keep = [k for k in live if hmac.compare_digest(k.key_hash, hash_secret(k.salt, token))]
    revoked = [k.id for k in live if k not in keep[:1]]
    for key in live:
        if key.id in revoked:
            key.revoked = True
    session.commit()
    created = None if keep else create_key(session, "planner", BOOTSTRAP, secret=token)[0].id
    return created, revoked
