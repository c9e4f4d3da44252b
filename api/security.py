"""API keys: creation, salted HMAC-SHA256 storage and verification; per-IP rate limiting."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ApiKey

__all__ = ["RateLimiter", "create_key", "ensure_bootstrap_key", "hash_secret", "verify_key"]

_TOKEN = re.compile(r"smp_(\d{1,12})_([A-Za-z0-9_\-]{16,100})")


def hash_secret(salt: str, secret: str) -> str:
    """HMAC-SHA256 of the secret keyed with the key's own salt, hex."""
    return hmac.new(salt.encode(), secret.encode(), hashlib.sha256).hexdigest()


def create_key(session: Session, role: str, name: str = "", sites: list[str] | None = None,
               secret: str | None = None) -> tuple[ApiKey, str]:
    """Store a new key and return it with the full token (shown once, never stored)."""
    salt = secrets.token_hex(16)
    raw = secret or secrets.token_urlsafe(24)
    key = ApiKey(name=name, role=role, sites=";".join(sites or []), salt=salt,
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
    for key in session.scalars(select(ApiKey).where(ApiKey.revoked.is_(False), ApiKey.name == "bootstrap")):
        if hmac.compare_digest(key.key_hash, hash_secret(key.salt, token)):
            return key
    return None


def ensure_bootstrap_key(session: Session, token: str | None) -> None:
    """Create the operator-chosen planner key once, if configured and not yet stored."""
    if not token:
        return
    existing = session.scalars(select(ApiKey).where(ApiKey.name == "bootstrap")).all()
    if any(hmac.compare_digest(k.key_hash, hash_secret(k.salt, token)) for k in existing):
        return
    create_key(session, "planner", "bootstrap", secret=token)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per client, in memory (sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, max_clients: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str) -> float:
        """Record an event; return 0 if allowed, else the seconds until the next one is."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            events = self._events.get(client)
            if events is None:
                if len(self._events) >= self.max_clients:
                    self._forget_idle(now)
                events = self._events[client] = deque()
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) >= self.limit:
                return max(0.001, self.window - (now - events[0]))
            events.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        idle = [c for c, ev in self._events.items() if not ev or now - ev[-1] >= self.window]
        for client in idle:
            del self._events[client]
