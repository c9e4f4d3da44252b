"""The audit log: every export and read of residents' data and every key change, kept 180 days.

An entry says who (key id, name, role), when (UTC), what (action), on which plan or scenario, how
many records and from which client address. It never holds the personal data itself.
"""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import Request
from sqlalchemy import Engine, delete, insert

from api.models import AuditEntry, utcnow

__all__ = ["ACTIONS", "client_of", "prune_audit", "record"]

log = logging.getLogger(__name__)

ACTIONS = (
    "export.sms", "export.sms_invalid", "export.notice", "export.notices", "export.plan_workbook",
    "read.assignments", "read.home_visits", "read.unplaced", "scenario.purge",
    "key.create", "key.revoke", "key.bootstrap", "key.bootstrap_revoke", "plan.delete",
)


def client_of(request: Request | None) -> str:
    """The client address as the service sees it (the proxy-resolved peer)."""
    if request is None or request.client is None:
        return ""
    return str(request.client.host)[:64]


def record(engine: Engine, action: str, *, key_id: int | None = None, key_name: str = "", role: str = "",
           plan_id: int | None = None, scenario_id: int | None = None, records: int = 0, client: str = "",
           detail: str = "") -> None:
    """Append one entry in its own transaction."""
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry).values(
            at=utcnow(), key_id=key_id, key_name=key_name[:100], role=role[:16], action=action[:40],
            plan_id=plan_id, scenario_id=scenario_id, records=int(records), client=client[:64],
            detail=detail[:200]))


def prune_audit(engine: Engine, days: int, now: dt.datetime | None = None) -> int:
    """Delete entries older than ``days``; return how many."""
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    with engine.begin() as conn:
        n = conn.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount
    if n:
        log.info("pruned %d audit entries older than %d days", n, days)
    return int(n or 0)
