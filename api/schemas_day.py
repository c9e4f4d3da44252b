"""Wire schemas of the sampling day: check-ins, status, missed households, follow-ups, public sites."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from api.schemas import PLAIN

__all__ = [
    "CheckinIn",
    "CheckinRejection",
    "CheckinsIn",
    "CheckinsResult",
    "FollowupIn",
    "FollowupsIn",
    "FollowupsResult",
    "MissedHousehold",
    "MissedPublic",
    "PublicSite",
    "PublicSites",
    "StatusPublic",
    "StatusRow",
]

_AWARE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})")


def _aware_text(value: object) -> object:
    """A check-in's time: RFC 3339 text with its offset (pydantic would take 0.5 as a Unix time)."""
    if not isinstance(value, str) or not _AWARE.fullmatch(value.strip()):
        raise ValueError("give an RFC 3339 time with its offset, e.g. 2022-11-23T09:30:00+08:00")
    return value


AwareTime = Annotated[dt.datetime, BeforeValidator(_aware_text)]

OutcomeName = Literal["coming", "home_visit", "away", "refused", "sampled_elsewhere"]


class CheckinIn(BaseModel):
    """One household (or some of its members) sampled; ``id`` is made by the device (a uuid)."""

    id: str = Field(min_length=1, max_length=64, pattern=PLAIN)
    code: str | None = Field(default=None, max_length=32, pattern=PLAIN)
    household_id: str | None = Field(default=None, max_length=100, pattern=PLAIN)
    site_id: str = Field(default="", max_length=100, pattern=PLAIN, description="the site's id; '' or 'home' for a home visit")
    at: AwareTime = Field(description="RFC 3339 time with its offset")
    people: int | None = Field(default=None, ge=1, le=100, description="default: the rest of the household")
    tube: str = Field(default="", max_length=64, pattern=PLAIN)


class CheckinsIn(BaseModel):
    checkins: list[CheckinIn] = Field(max_length=5000)


class CheckinRejection(BaseModel):
    index: int
    reason: str


class CheckinsResult(BaseModel):
    """How a batch went: stored, already stored before (re-sends), rejected with the reason."""

    accepted: int
    duplicates: int
    rejected: list[CheckinRejection]


class StatusRow(BaseModel):
    key: str
    name: str
    planned_households: int
    planned_people: int
    due_people: int
    sampled_households: int
    sampled_people: int
    coverage: float
    behind_people: int


class StatusPublic(BaseModel):
    at: dt.datetime
    by: str
    data: list[StatusRow]


class MissedHousehold(BaseModel):
    """A household that should have come and has not; contact and phone only for roles that call."""

    household_id: str
    grid: str
    compound: str
    address: str
    size: int
    mode: str
    site_id: str
    site: str
    slot_end: dt.datetime | None
    outcome: str
    contact: str | None = None
    phone: str | None = None


class MissedPublic(BaseModel):
    at: dt.datetime
    data: list[MissedHousehold]
    count: int


class FollowupIn(BaseModel):
    household_id: str = Field(min_length=1, max_length=100, pattern=PLAIN)
    outcome: OutcomeName
    note: str = Field(default="", max_length=200, pattern=PLAIN)


class FollowupsIn(BaseModel):
    followups: list[FollowupIn] = Field(max_length=1000)


class FollowupsResult(BaseModel):
    recorded: int
    rejected: list[CheckinRejection]


class PublicSite(BaseModel):
    """A site as residents see it: where, and how long the queue is (畅通 / 忙碌 / 拥堵)."""

    site_id: str
    name: str
    lon: float
    lat: float
    status: Literal["畅通", "忙碌", "拥堵", "未开放"]
    wait_minutes: int
    queue_people: int


class PublicSites(BaseModel):
    at: dt.datetime
    data: list[PublicSite]
