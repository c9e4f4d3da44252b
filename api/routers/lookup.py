"""Resident lookup: resident code + last 4 phone digits → that household's site, address, slot.

Public (no key) and uniform: any mismatch — unknown code, wrong digits, no published plan, a
household locked after too many wrong tries — gets the same 404, so the endpoint reveals nothing
else. Limits (api.limits.LookupLimits, shared by all worker processes): requests per client per
minute and wrong answers per client per hour (429), wrong answers per household (a lock). The
client is the TCP peer; ``X-Forwarded-For`` counts only from SAMPLER_TRUSTED_PROXIES (uvicorn's
proxy headers are switched on by `sampler serve` for those addresses only).

Staff tools may look a household up by its registry ``household_id`` instead of the code, but only
with a planner key or a site key (the households planned at its sites; ``home`` among them for
home visits): registry ids are printed on lists and guessable, so without a key a
``household_id`` is refused (401) before anything is read. Such a lookup is counted by the same
per-household lockout as the resident's code (the lock key is the household's code), and its
per-client limits count per key, not per address.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine, bindparam, select

from api.deps import Caller, get_caller
from api.limits import Decision, LookupLimits
from api.lookupindex import IndexCache, LookupIndex
from api.models import PLAN_TABLES, Plan, Scenario
from api.schemas import LookupQuery, LookupResult
from sampler.day.codes import normalise_code
from sampler.io.timefmt import span_zh
from sampler.notify.contact import address_of

__all__ = ["NOT_FOUND", "PublishedPlans", "STAFF_ROLES", "lookup_key", "router"]

router = APIRouter(prefix="/lookup", tags=["lookup"])
_staff_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                          description="staff key (planner or site), only for lookups by household_id")
NOT_FOUND = "没有找到匹配的住户，请核对核酸码和登记手机号后四位。(no household matches this code and phone)"
STAFF_ROLES = ("planner", "site")  # the keys that may look households up by registry id
STAFF_ONLY = ("household_id lookups need a planner or site key (header X-API-Key); residents give the 核酸码 "
              "from their SMS as code")

_a, _c, _s, _b, _u = (PLAN_TABLES[n] for n in ("assignments", "contacts", "sites", "buildings", "unplaced"))
_building_name = (select(_b.c.name).where(_b.c.plan_id == _a.c.plan_id, _b.c.building_id == _a.c.building_id)
                  .limit(1).scalar_subquery())
_QUERY = (
    select(_c.c.phone, _c.c.household_id, _c.c.code, _a.c.site_id, _a.c.building_id, _a.c.unit, _a.c.room, _a.c.mode, _a.c.slot_start, _a.c.slot_end,
           _s.c.name.label("site"), _building_name.label("building_name"), _u.c.household_id.label("unplaced"))
    .select_from(
        _c.outerjoin(_a, (_a.c.plan_id == _c.c.plan_id) & (_a.c.household_id == _c.c.household_id))
        .outerjoin(_s, (_s.c.plan_id == _c.c.plan_id) & (_s.c.site_id == _a.c.site_id))
        .outerjoin(_u, (_u.c.plan_id == _c.c.plan_id) & (_u.c.household_id == _c.c.household_id))
    )
)


# One statement each, made once: building `WHERE … == value` per request cost more than the query.
_BY_CODE = _QUERY.where(_c.c.plan_id == bindparam("plan_id"), _c.c.code == bindparam("key")).limit(1)
_BY_HOUSEHOLD = _QUERY.where(_c.c.plan_id == bindparam("plan_id"), _c.c.household_id == bindparam("key")).limit(1)


class PublishedPlans:
    """Ids of the published plans, cached for a few seconds (one query less per lookup), and the
    in-memory lookup index of each (`api.lookupindex`), dropped as soon as a refresh finds its
    plan withdrawn, deleted or its scenario purged."""

    def __init__(self, ttl: float = 2.0, index_max_households: int = 0) -> None:
        self.ttl = ttl
        self._ids: frozenset[int] = frozenset()
        self._keys: dict[int, tuple[tuple[int, Any], int]] = {}
        self._at = -1e9
        self._refreshing = threading.Lock()
        self._state = threading.Lock()  # the cached keys, their time and the generation change together
        self._generation = 0
        self._retry_at = 0.0
        self.indexes = IndexCache(index_max_households)

    def ids(self, engine: Engine) -> frozenset[int]:
        """The published plan ids. Read from the database on the first call and after
        `invalidate`; when older than the TTL they are re-read in a background thread while the
        cached ones answer, so a lookup never waits on the database for them (a busy PostgreSQL
        held the event loop for each refresh). Each refresh starts building the missing indexes."""
        now = time.monotonic()
        if self._at < 0:
            self._refresh(engine)
        elif now - self._at > self.ttl and now >= self._retry_at and not self._refreshing.locked():
            threading.Thread(target=self._background_refresh, args=(engine,), name="published-plans",
                             daemon=True).start()
        return self._ids

    def _background_refresh(self, engine: Engine) -> None:
        try:
            self._refresh(engine)
        except Exception:  # noqa: BLE001 - the database is down: lookups fail on it; retry in a second
            self._retry_at = time.monotonic() + 1.0
            logging.getLogger(__name__).warning("published plans not re-read; retrying in 1 s")

    def _refresh(self, engine: Engine) -> None:
        with self._refreshing:
            with self._state:
                started, generation = time.monotonic(), self._generation
            with engine.connect() as conn:
                rows = conn.execute(select(Plan.id, Plan.households, Scenario.purged_at)
                                    .outerjoin(Scenario, Scenario.id == Plan.scenario_id)
                                    .where(Plan.published.is_(True))).all()
            keys = {int(r[0]): ((int(r[0]), r[2]), int(r[1] or 0)) for r in rows}
            with self._state:
                self._keys, self._ids = keys, frozenset(keys)
                self.indexes.keep({key for key, _ in keys.values()})
                if generation == self._generation:  # else invalidated meanwhile: the next call reads again
                    self._at = started
            for key, households in keys.values():
                self.indexes.warm(engine, key, households)

    def index(self, engine: Engine, plan_id: int) -> LookupIndex | None:
        """The in-memory index of a published plan (after `ids`), or None: use the database.
        None too while the published plans are older than the TTL (a refresh is under way): a
        purge in another process may have erased what the index holds, and the database knows."""
        if time.monotonic() - self._at > self.ttl:
            return None
        found = self._keys.get(plan_id)
        return None if found is None else self.indexes.get(engine, found[0], found[1])

    def invalidate(self) -> None:
        """Forget the cache (after publishing or purging in this process)."""
        with self._state:
            self._generation += 1
            self._at = -1e9


def lookup_key(body: LookupQuery, row: Any = None) -> str:
    """The opaque key the per-household limits count under: the resident code (as normalised).

    A staff lookup by ``household_id`` counts under the code of the household it found (``row``),
    so that codes and registry ids share one lockout; under the id only where the household has
    no stored code (or is not in the plan).
    """
    if body.code is not None:
        return f"code:{normalise_code(body.code)}"
    code = str(getattr(row, "code", "") or "") if row is not None else ""
    return f"code:{normalise_code(code)}" if code else f"hh:{body.household_id}"


def _staff(request: Request, token: str | None) -> Caller:
    """The staff caller of a lookup by household id: 401 without a valid key, 403 for other roles."""
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, STAFF_ONLY, headers={"WWW-Authenticate": "ApiKey"})
    with request.app.state.sessions() as session:
        caller = get_caller(request, session, token)
    if caller.role not in STAFF_ROLES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, STAFF_ONLY)
    return caller


def _in_scope(caller: Caller, row: Any) -> bool:
    """A site key reads the households planned at its sites (``home``: home visits)."""
    if caller.role != "site":
        return True
    site = "home" if row.mode == "home" else (row.site_id or "")
    return bool(site) and site in caller.sites


def _check(decision: Decision) -> None:
    if decision.retry_after:
        wait = decision.retry_after
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"查询过于频繁，请{wait}秒后再试。(too many lookups; retry in {wait} s)",
                            headers={"Retry-After": str(wait)})


@router.post("", response_model=LookupResult,
             responses={401: {"description": "A household_id lookup without a staff key"},
                        403: {"description": "A household_id lookup with a key that is not a planner or site key"},
                        404: {"description": "No match (the same answer for every kind of mismatch)"},
                        429: {"description": "Too many lookups or wrong answers from this address"}})
async def lookup_household(body: LookupQuery, request: Request,
                           token: Annotated[str | None, Security(_staff_key)] = None) -> LookupResult:
    """A resident's own slot: resident code and the last 4 digits of the registered phone.

    Answered from the process's in-memory index of the plan (`api.lookupindex`; published plan
    ids are cached), or, while that is built or where it is switched off, by one indexed point
    query; both take well under a millisecond, so they run on the event loop (a thread-pool
    hand-off would cost more; see benchmarks/api_load.py).
    ``household_id`` instead of ``code`` needs a planner or site key (see the module docstring).
    """
    engine: Engine = request.app.state.engine
    limits: LookupLimits = request.app.state.lookup_limits
    staff = _staff(request, token) if body.household_id is not None else None
    if staff is None:
        client = request.client.host if request.client else "unknown"
        key = lookup_key(body)
        decision = limits.before(client, key)  # one round trip before the query
        _check(decision)
    published: PublishedPlans = request.app.state.published
    ids = published.ids(engine)
    plan_id = body.plan_id if body.plan_id in ids else (max(ids) if ids and body.plan_id is None else None)
    row: Any = None
    index = published.index(engine, plan_id) if plan_id is not None and body.code is not None else None
    if index is not None and body.code is not None:
        row = index.row(normalise_code(body.code))
    elif plan_id is not None:
        statement, value = ((_BY_CODE, normalise_code(body.code)) if body.code is not None
                            else (_BY_HOUSEHOLD, body.household_id))
        with engine.connect() as conn:
            row = conn.execute(statement, {"plan_id": plan_id, "key": value}).first()
    if staff is not None:
        client = f"key:{staff.key_id}"  # staff limits count per key (a site's devices share one address)
        key = lookup_key(body, row)
        decision = limits.before(client, key)
        _check(decision)
        if row is not None and not _in_scope(staff, row):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)  # digits not evaluated, nothing counted
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
