"""Resident lookup: household code + last 4 phone digits → that household's site, address, slot.

Public (no key) and uniform: any mismatch — unknown household, wrong digits, no published plan, a
household locked after too many wrong tries — gets the same 404, so the endpoint reveals nothing
else. Limits (api.limits.LookupLimits, shared by all worker processes): requests per client per
minute and wrong answers per client per hour (429), wrong answers per household (a lock). The
client is the TCP peer; ``X-Forwarded-For`` counts only from SAMPLER_TRUSTED_PROXIES (uvicorn's
proxy headers are switched on by `sampler serve` for those addresses only).
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import Connection, Engine, select

from api.limits import LookupLimits
from api.models import PLAN_TABLES, Plan
from api.schemas import LookupQuery, LookupResult
from sampler.day.codes import normalise_code
from sampler.io.timefmt import span_zh
from sampler.notify.contact import address_of

__all__ = ["NOT_FOUND", "PublishedPlans", "lookup_key", "router"]

router = APIRouter(prefix="/lookup", tags=["lookup"])
NOT_FOUND = "没有找到匹配的住户，请核对核酸码和登记手机号后四位。(no household matches this code and phone)"

_a, _c, _s, _b, _u = (PLAN_TABLES[n] for n in ("assignments", "contacts", "sites", "buildings", "unplaced"))
_building_name = (select(_b.c.name).where(_b.c.plan_id == _a.c.plan_id, _b.c.building_id == _a.c.building_id)
                  .limit(1).scalar_subquery())
_QUERY = (
    select(_c.c.phone, _c.c.household_id, _a.c.building_id, _a.c.unit, _a.c.room, _a.c.mode, _a.c.slot_start, _a.c.slot_end,
           _s.c.name.label("site"), _building_name.label("building_name"), _u.c.household_id.label("unplaced"))
    .select_from(
        _c.outerjoin(_a, (_a.c.plan_id == _c.c.plan_id) & (_a.c.household_id == _c.c.household_id))
        .outerjoin(_s, (_s.c.plan_id == _c.c.plan_id) & (_s.c.site_id == _a.c.site_id))
        .outerjoin(_u, (_u.c.plan_id == _c.c.plan_id) & (_u.c.household_id == _c.c.household_id))
    )
)


class PublishedPlans:
    """Ids of the published plans, cached for a few seconds (one query less per lookup)."""

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._ids: frozenset[int] = frozenset()
        self._at = -1e9

    def ids(self, conn: Connection) -> frozenset[int]:
        """The published plan ids, re-read when older than the TTL."""
        now = time.monotonic()
        if now - self._at > self.ttl:
            self._ids = frozenset(conn.execute(select(Plan.id).where(Plan.published.is_(True))).scalars())
            self._at = now
        return self._ids

    def invalidate(self) -> None:
        """Forget the cache (after publishing in this process)."""
        self._at = -1e9


def lookup_key(body: LookupQuery) -> str:
    """The opaque key the per-household limits count under: the resident code (as normalised),
    or the household id for staff tools."""
    return f"code:{normalise_code(body.code)}" if body.code is not None else f"hh:{body.household_id}"


@router.post("", response_model=LookupResult,
             responses={404: {"description": "No match (the same answer for every kind of mismatch)"},
                        429: {"description": "Too many lookups or wrong answers from this address"}})
async def lookup_household(body: LookupQuery, request: Request) -> LookupResult:
    """A resident's own slot: household code and the last 4 digits of the registered phone.

    One indexed point query (published plan ids are cached) takes well under a millisecond, so it
    runs on the event loop: a thread-pool hand-off would cost more (see benchmarks/api_load.py).
    """
    engine: Engine = request.app.state.engine
    client = request.client.host if request.client else "unknown"
    limits: LookupLimits = request.app.state.lookup_limits
    key = lookup_key(body)
    decision = limits.before(client, key)
    if decision.retry_after:
        wait = decision.retry_after
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"查询过于频繁，请{wait}秒后再试。(too many lookups; retry in {wait} s)",
                            headers={"Retry-After": str(wait)})
    published: PublishedPlans = request.app.state.published
    with engine.connect() as conn:
        ids = published.ids(conn)
        plan_id = body.plan_id if body.plan_id in ids else (max(ids) if ids and body.plan_id is None else None)
        row = None
        if plan_id is not None:
            match = (_c.c.code == normalise_code(body.code)) if body.code is not None else (
                _c.c.household_id == body.household_id)
            row = conn.execute(_QUERY.where(_c.c.plan_id == plan_id, match).limit(1)).first()
    phone = (row.phone or "") if row is not None else ""
    right = row is not None and len(phone) >= 4 and hmac.compare_digest(phone[-4:].encode(), body.phone_last4.encode())
    if not right or decision.locked:
        if not right:
            limits.failed(client, key)
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    assert row is not None
    if row.mode is None:
        return LookupResult(household_id=row.household_id, site="", address="", mode="unplaced", slot_start="",
                            slot_end="", instruction="暂未为您家安排采样时段，网格员会尽快与您联系。")
    address = address_of(row.building_name or row.building_id, row.unit or "", row.room or "")
    when = span_zh(row.slot_start, row.slot_end)
    if row.mode == "home":
        return LookupResult(household_id=row.household_id, site="上门采样", address=address, mode="home",
                            slot_start=row.slot_start, slot_end=row.slot_end,
                            instruction=f"工作人员将于{when}上门采样，请全家在家等候并备好身份证。")
    return LookupResult(household_id=row.household_id, site=row.site or "", address=address, mode="site",
                        slot_start=row.slot_start, slot_end=row.slot_end,
                        instruction=f"请于{when}到{row.site}采样，全家携带身份证，排队保持1米间距。")
