"""Check-ins and follow-up outcomes against a plan: validation, the day's ledger, coverage, missed.

`DayPlan` holds what the day needs of a plan, one array per household in registry order, so that a
million households cost a few arrays. A batch of check-ins is validated against it
(`validate_checkins`): each row is accepted, a duplicate (its device id was seen before, so a
re-send after a lost network counts once) or rejected with a reason, and the rest of the batch is
kept. `Ledger` is the state of the day (people sampled per household, where, and the outcome grid
workers recorded); `coverage` aggregates it by area, site, grid, compound or building, and `missed`
lists the households that should have come and did not.

Rules
-----
- A household may be checked in more than once (members coming separately); its sampled people
  are the sum, and a check-in that would take it past its size is rejected.
- A household sampled at another site than planned is accepted and counted at the site where it
  was sampled (``by=site`` counts check-ins by the site of the check-in; planned figures by the
  planned site).
- A household is *due* at ``at`` when its slot has ended by then (home visits: their slot; unplaced
  households: once the window is over); it is *behind* when due and not sampled.
- A household is *missed* when its slot ended at least ``grace`` minutes before ``at`` (every one
  once ``at`` is past the window's end), it has no check-in, and no outcome closes it (away from
  the area, refused, sampled elsewhere). "Coming now" and "at home → home visit" keep it open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from sampler.day.codes import normalise_code
from sampler.model import IntArray, StrArray

__all__ = [
    "BUSY_MINUTES",
    "BY_KEYS",
    "JAMMED_MINUTES",
    "CheckinOutcome",
    "DayPlan",
    "Ledger",
    "Outcome",
    "coverage",
    "missed",
    "queue_status",
    "validate_checkins",
]


BY_KEYS = ("area", "site", "grid", "compound", "building")


class Outcome(StrEnum):
    """What a grid worker found when following up a missed household."""

    COMING = "coming"  # 马上去采样
    HOME_VISIT = "home_visit"  # 在家，需上门
    AWAY = "away"  # 不在本区域
    REFUSED = "refused"  # 拒绝
    SAMPLED_ELSEWHERE = "sampled_elsewhere"  # 已在别处采样

    @property
    def closes(self) -> bool:
        """Whether the outcome takes the household off the missed list."""
        return self in (Outcome.AWAY, Outcome.REFUSED, Outcome.SAMPLED_ELSEWHERE)

    @property
    def label(self) -> str:
        return _OUTCOME_ZH[self]


_OUTCOME_ZH = {Outcome.COMING: "马上去采样", Outcome.HOME_VISIT: "在家，需上门采样",
               Outcome.AWAY: "不在本区域", Outcome.REFUSED: "拒绝采样",
               Outcome.SAMPLED_ELSEWHERE: "已在别处采样"}
_OUTCOME_CODE = {o: i + 1 for i, o in enumerate(Outcome)}  # 0 = none recorded
_CLOSING_CODES = np.array([0] + [o.closes for o in Outcome], dtype=bool)


@dataclass(frozen=True)
class DayPlan:
    """What the sampling day needs of a plan; household arrays in registry order.

    Attributes
    ----------
    area
        The area's name (the key of ``by=area``).
    household_ids, codes
        Registry ids and resident codes.
    size
        People per household.
    site
        Planned site index (−1 for home visits and unplaced households).
    slot_end
        Minutes from the window start at which the household's slot ends (−1: unplaced).
    building
        Building index per household; ``building_ids``, ``building_grid`` and
        ``building_compound`` describe each building.
    site_ids, site_names
        Sites in index order.
    start, hours
        The window (timezone-aware start).
    phones, contacts, unit, room, building_names
        What the missed list shows (optional).
    slot_minutes, site_lon, site_lat, site_rate
        Slot length; where each site is and how many people per minute it serves (public status).
    """

    area: str
    household_ids: StrArray
    codes: StrArray
    size: IntArray
    site: IntArray
    slot_end: IntArray
    building: IntArray
    building_ids: StrArray
    building_grid: StrArray
    building_compound: StrArray
    site_ids: Sequence[str]
    site_names: Sequence[str]
    start: dt.datetime
    hours: float
    phones: StrArray | None = None
    contacts: StrArray | None = None
    unit: StrArray | None = None
    room: StrArray | None = None
    building_names: StrArray | None = None
    slot_minutes: int = 30
    site_lon: Sequence[float] = ()
    site_lat: Sequence[float] = ()
    site_rate: Sequence[float] = ()  # people per minute at full staffing
    _index: dict[str, dict[str, int]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("DayPlan.start must be timezone-aware")

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(hours=self.hours)

    def __len__(self) -> int:
        return len(self.size)

    def minute(self, at: dt.datetime) -> float:
        """Minutes from the window start to ``at`` (timezone-aware)."""
        return (at - self.start).total_seconds() / 60.0

    def lookup(self, kind: str) -> dict[str, int]:
        """Index of households by ``code``, ``household_id`` or ``phone``, and of sites by ``site``."""
        if kind not in self._index:
            if kind == "code":
                values: Iterable[Any] = self.codes
            elif kind == "household_id":
                values = self.household_ids
            elif kind == "phone":
                values = self.phones if self.phones is not None else []
            elif kind == "site":
                values = self.site_ids
            else:
                raise KeyError(kind)
            index: dict[str, int] = {}
            for i, v in enumerate(values):
                if v and kind == "phone" and v in index:
                    index[v] = -1  # a phone shared by households identifies none of them
                elif v:
                    index.setdefault(str(v), i)
            self._index[kind] = index
        return self._index[kind]


@dataclass
class Ledger:
    """The state of the day: people sampled per household, where, and follow-up outcomes."""

    sampled_people: IntArray
    sampled_site: IntArray  # site of the first check-in (−1: none or a home visit)
    outcome: npt.NDArray[np.int8]
    checkin_ids: set[str] = field(default_factory=set)

    @classmethod
    def empty(cls, day: DayPlan) -> Ledger:
        n = len(day)
        return cls(np.zeros(n, np.int64), np.full(n, -1, np.int64), np.zeros(n, np.int8))

    def apply(self, checkins: Iterable[Mapping[str, Any]]) -> None:
        """Record accepted check-ins (``id``, ``household``, ``site``, ``people``); ids seen are skipped."""
        for c in checkins:
            if c["id"] in self.checkin_ids:
                continue
            self.checkin_ids.add(c["id"])
            h = int(c["household"])
            if self.sampled_people[h] == 0:
                self.sampled_site[h] = int(c["site"])
            self.sampled_people[h] += int(c["people"])

    @property
    def sampled(self) -> npt.NDArray[np.bool_]:
        return self.sampled_people > 0

    def record_outcome(self, household: int, outcome: Outcome) -> None:
        self.outcome[household] = _OUTCOME_CODE[outcome]

    @property
    def closed(self) -> npt.NDArray[np.bool_]:
        return _CLOSING_CODES[self.outcome]


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str


@dataclass
class CheckinOutcome:
    """What became of a batch: rows accepted (household, site, at, people), duplicates, rejections."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def answer(self) -> dict[str, Any]:
        return {"accepted": len(self.accepted), "duplicates": self.duplicates,
                "rejected": [{"index": r.index, "reason": r.reason} for r in self.rejected]}


def _parse_at(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def validate_checkins(day: DayPlan, ledger: Ledger, rows: Sequence[Mapping[str, Any]]) -> CheckinOutcome:
    """Validate a batch against the plan and the ledger, without changing the ledger.

    Each row has ``id`` (made by the device), one of ``code``/``household_id``/``phone``,
    ``site_id`` (``""`` or ``"home"`` for a home visit), ``at`` (RFC 3339 with offset), ``people``
    and optionally ``tube``. Rows are taken in order, each seeing the ones accepted before it; a
    rejected row changes nothing. `Ledger.apply` records what was accepted (the service applies
    the rows its database stored instead, so that every worker process converges on one ledger).
    """
    out = CheckinOutcome()
    seen: set[str] = set()
    people_so_far: dict[int, int] = {}
    sites = day.lookup("site")
    end_minute = day.hours * 60.0
    for i, row in enumerate(rows):
        cid = str(row.get("id") or "").strip()
        if not cid or len(cid) > 64:
            out.rejected.append(Rejection(i, "id missing or longer than 64 characters: give each check-in the uuid the device made"))
            continue
        if cid in ledger.checkin_ids or cid in seen:
            out.duplicates += 1
            continue
        household, why = _household_of(day, row)
        if household < 0:
            out.rejected.append(Rejection(i, why))
            continue
        site_text = str(row.get("site_id") or "").strip()
        if site_text in ("", "home"):
            site = -1
        elif site_text in sites:
            site = sites[site_text]
        else:
            out.rejected.append(Rejection(i, f"site {site_text!r} is not in this plan"))
            continue
        at = _parse_at(row.get("at"))
        if at is None:
            out.rejected.append(Rejection(i, "at must be an RFC 3339 time with its offset, e.g. 2022-11-23T09:30:00+08:00"))
            continue
        minute = day.minute(at)
        if minute < 0 or minute > end_minute:
            out.rejected.append(Rejection(i, f"at {at.isoformat()} is outside the window {day.start.isoformat()} – {day.end.isoformat()}"))
            continue
        people = row.get("people", None)
        size = int(day.size[household])
        already = people_so_far.get(household, int(ledger.sampled_people[household]))
        if people is None or people == "":
            people = max(size - already, 1)
        try:
            people = int(people)
        except (TypeError, ValueError):
            out.rejected.append(Rejection(i, f"people {people!r} is not a whole number"))
            continue
        if people < 1:
            out.rejected.append(Rejection(i, "people must be at least 1"))
            continue
        if already + people > size:
            out.rejected.append(Rejection(i, f"more people than the household has left to sample: {people} given, {already} of {size} already sampled"))
            continue
        seen.add(cid)
        people_so_far[household] = already + people
        tube = str(row.get("tube") or "")[:64]
        out.accepted.append({"id": cid, "household": household, "site": site, "at": at,
                             "minute": minute, "people": people, "tube": tube})
    return out


def _household_of(day: DayPlan, row: Mapping[str, Any]) -> tuple[int, str]:
    if row.get("code"):
        code = normalise_code(str(row["code"]))
        i = day.lookup("code").get(code, -1)
        return i, "" if i >= 0 else "code is not in this plan"
    if row.get("household_id"):
        i = day.lookup("household_id").get(str(row["household_id"]).strip(), -1)
        return i, "" if i >= 0 else "household_id is not in this plan"
    if row.get("phone"):
        i = day.lookup("phone").get(str(row["phone"]).strip(), -1)
        return i, "" if i >= 0 else "phone matches no household, or more than one, in this plan"
    return -1, "give code, household_id or phone"


def _keys(day: DayPlan, by: str, ledger: Ledger) -> tuple[IntArray, list[str], list[str], IntArray]:
    """Group index per household (planned), group keys and names, and group of each sampled one."""
    n = len(day)
    if by == "area":
        g = np.zeros(n, np.int64)
        return g, [day.area], [day.area], g
    if by == "site":
        k = len(day.site_ids)
        home = k  # home visits and unplaced households form one extra group
        planned = np.where(day.site >= 0, day.site, home)
        actual = np.where(ledger.sampled_site >= 0, ledger.sampled_site, np.where(ledger.sampled, home, planned))
        return planned, [*day.site_ids, "home"], [*day.site_names, "上门采样/未安排"], actual
    if by == "building":
        keys = [str(b) for b in day.building_ids]
        return day.building, keys, keys, day.building
    if by in ("grid", "compound"):
        column = day.building_grid if by == "grid" else day.building_compound
        codes, uniques = _factorize(column)
        g = codes[day.building]
        names = [str(u) for u in uniques]
        return g, names, names, g
    raise ValueError(f"by must be one of {', '.join(BY_KEYS)}")


def _factorize(values: StrArray) -> tuple[IntArray, list[Any]]:
    uniques, inverse = np.unique(np.asarray(values, dtype=str), return_inverse=True)
    return inverse.astype(np.int64), list(uniques)


def due_mask(day: DayPlan, at: dt.datetime) -> npt.NDArray[np.bool_]:
    """Households whose slot has ended by ``at`` (unplaced ones once the window is over)."""
    minute = day.minute(at)
    over = minute >= day.hours * 60.0
    return np.where(day.slot_end >= 0, day.slot_end <= minute, over)


def coverage(day: DayPlan, ledger: Ledger, by: str = "area", at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per group: planned and due people, sampled households and people, coverage, behind."""
    at = at or dt.datetime.now(dt.UTC)
    planned, keys, names, actual = _keys(day, by, ledger)
    k = len(keys)
    due = due_mask(day, at)
    sampled = ledger.sampled
    behind = due & ~sampled
    pp = np.bincount(planned, weights=day.size, minlength=k)
    ph = np.bincount(planned, minlength=k)
    dp = np.bincount(planned, weights=np.where(due, day.size, 0), minlength=k)
    bp = np.bincount(planned, weights=np.where(behind, day.size, 0), minlength=k)
    sh = np.bincount(actual, weights=sampled.astype(np.int64), minlength=k)
    sp = np.bincount(actual, weights=ledger.sampled_people, minlength=k)
    rows = []
    for j in range(k):
        if ph[j] == 0 and sh[j] == 0:
            continue
        rows.append({"key": keys[j], "name": names[j], "planned_households": int(ph[j]),
                     "planned_people": int(pp[j]), "due_people": int(dp[j]),
                     "sampled_households": int(sh[j]), "sampled_people": int(sp[j]),
                     "coverage": round(float(sp[j] / pp[j]), 4) if pp[j] else 0.0,
                     "behind_people": int(bp[j])})
    return rows


def missed(day: DayPlan, ledger: Ledger, at: dt.datetime, grace_min: float = 30.0,
           grids: Sequence[str] | None = None) -> IntArray:
    """Indices of missed households (see the module docstring), in building and slot order."""
    minute = day.minute(at)
    if minute >= day.hours * 60.0:
        overdue = np.ones(len(day), dtype=bool)
    else:
        overdue = (day.slot_end >= 0) & (day.slot_end + grace_min <= minute)
    mask = overdue & ~ledger.sampled & ~ledger.closed
    if grids is not None:
        wanted = np.isin(np.asarray(day.building_grid, dtype=str), list(grids))
        mask &= wanted[day.building]
    idx = np.flatnonzero(mask)
    order = np.lexsort((idx, day.slot_end[idx], day.building[idx]))
    return idx[order]


CHINA = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


def day_plan(plan: Any, codes: StrArray, tz: dt.tzinfo = CHINA) -> DayPlan:
    """The day's view of a typed `sampler.plan.planner.Plan` (the window's clock times in ``tz``)."""
    from sampler.plan.planner import MODE_HOME, MODE_SITE

    hh, b = plan.registry.households, plan.registry.buildings
    placed = (plan.mode == MODE_SITE) | (plan.mode == MODE_HOME)
    slot_end = np.where(placed, (plan.slot + 1) * plan.grid.minutes, -1).astype(np.int64)
    sites = plan.registry.sites
    start = plan.grid.start if plan.grid.start.tzinfo else plan.grid.start.replace(tzinfo=tz)
    return DayPlan(
        area=plan.scenario.area, household_ids=np.asarray(hh.id, dtype=object), codes=codes,
        size=np.asarray(hh.size, dtype=np.int64),
        site=np.where(plan.mode == MODE_SITE, plan.site, -1).astype(np.int64), slot_end=slot_end,
        building=np.asarray(hh.building, dtype=np.int64), building_ids=b.id, building_grid=b.grid,
        building_compound=b.compound, site_ids=[s.id for s in sites], site_names=[s.name for s in sites],
        start=start, hours=plan.grid.n * plan.grid.minutes / 60.0, phones=np.asarray(hh.phone, dtype=object),
        contacts=np.asarray(hh.contact, dtype=object), unit=np.asarray(hh.unit, dtype=object),
        room=np.asarray(hh.room, dtype=object), building_names=b.name, slot_minutes=plan.grid.minutes,
        site_lon=[s.lon for s in sites], site_lat=[s.lat for s in sites],
        site_rate=[s.tables * s.rate / 60.0 for s in sites])


#: Queue status thresholds of Shenzhen's 核酸点一键查 (minutes of expected wait).
BUSY_MINUTES, JAMMED_MINUTES = 25.0, 50.0


def queue_status(queue_people: float, recent_per_min: float, planned_per_min: float) -> tuple[str, int]:
    """畅通 / 忙碌 / 拥堵 and the expected wait in minutes.

    The estimate: the people due at the site so far (their slot has started) less those already
    sampled there form the queue; it drains at the site's observed rate — people checked in over
    the last 30 minutes per minute — or, before anyone has been checked in for 30 minutes, at its
    planned rate (tables × people per table-hour). Wait = queue ÷ rate; under 25 minutes is 畅通,
    under 50 忙碌, else 拥堵 (Shenzhen's thresholds).
    """
    rate = recent_per_min if recent_per_min > 0 else planned_per_min
    queue = max(0.0, float(queue_people))
    if queue == 0:
        return "畅通", 0
    wait = queue / rate if rate > 0 else float("inf")
    status = "畅通" if wait < BUSY_MINUTES else "忙碌" if wait < JAMMED_MINUTES else "拥堵"
    return status, int(min(wait, 24 * 60) + 0.5)
