"""Wire schemas (pydantic): one family per resource, XCreate / XPublic / XsPublic{data, count}."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "ERROR_RESPONSES",
    "AssignmentPublic",
    "AuditEntriesPublic",
    "AuditEntryPublic",
    "AssignmentsPublic",
    "BuildingSlotPublic",
    "BuildingSlotsPublic",
    "HomeVisitPublic",
    "HomeVisitsPublic",
    "ErrorPublic",
    "InputIssuePublic",
    "JobPublic",
    "JobsPublic",
    "KeyCreate",
    "KeyCreated",
    "SiteKeyCreate",
    "StaffKeyCreate",
    "KeyPublic",
    "KeysPublic",
    "LookupQuery",
    "LookupResult",
    "Message",
    "PlanCreate",
    "PlanPublic",
    "PlansPublic",
    "QueryTime",
    "Role",
    "ScenarioPublic",
    "ScenariosPublic",
    "SiteLoadPublic",
    "SiteLoadsPublic",
    "UnplacedPublic",
    "UnplacedsPublic",
    "UtcTime",
    "ValidationIssuePublic",
]

Role = Literal["planner", "site", "viewer", "grid"]


def _utc(value: dt.datetime) -> dt.datetime:
    """Stored times are naive UTC: mark them as UTC; aware ones are converted."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcTime = Annotated[dt.datetime, AfterValidator(_utc)]
"""A time on the wire: RFC 3339 in UTC (``2026-12-02T03:40:00Z``)."""

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")


def _rfc3339_text(value: object) -> object:
    """Query times must be RFC 3339 text (pydantic would also take 0.5 as a Unix time)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value.strip()):
        raise ValueError("give an RFC 3339 time such as 2026-12-01T00:00:00Z")
    return value


QueryTime = Annotated[dt.datetime, BeforeValidator(_rfc3339_text), AfterValidator(_utc)]
"""A time given in a query string: RFC 3339 text only; without an offset it is UTC."""


class Message(BaseModel):
    """A plain message."""

    detail: str


class InputIssuePublic(BaseModel):
    """One problem in an upload: file, 1-based data row, field, value and what to do."""

    file: str
    row: int | None
    field: str
    value: str
    fix: str


class ValidationIssuePublic(BaseModel):
    """One request field that failed validation (FastAPI's form)."""

    model_config = ConfigDict(extra="allow")
    loc: list[str | int]
    msg: str
    type: str


class ErrorPublic(BaseModel):
    """Every error answer: ``detail`` is a message, or a list of input or validation issues."""

    detail: str | list[InputIssuePublic | ValidationIssuePublic]


_ERRORS = {
    400: "Malformed request (for example a broken multipart body)",
    401: "Missing or invalid API key (header X-API-Key)",
    403: "The key's role may not do this",
    404: "No such resource",
    409: "Conflicts with the resource's state",
    422: "Invalid input: validation issues or input issues {file, row, field, value, fix}",
    429: "Too many requests or wrong keys from this address; see Retry-After",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic, "description": text} for code, text in _ERRORS.items()}
"""The error answers every keyed route documents (one schema for all)."""


PLAIN = r"^[^\x00-\x1f\x7f]*$"
"""Text a request may carry: no control characters (a NUL cannot be stored in PostgreSQL; lone
surrogates fail the pattern as invalid Unicode)."""
PLAIN_ID = r"^[^;\x00-\x1f\x7f]+$"
"""An id inside a ``;``-joined list: plain text without ``;``."""

SiteId = Annotated[str, Field(min_length=1, max_length=100, pattern=PLAIN_ID)]
KeyName = Annotated[str, Field(max_length=100, pattern=PLAIN,
                               description='who or what the key is for ("bootstrap" is reserved)')]


GridName = Annotated[str, Field(min_length=1, max_length=100, pattern=PLAIN_ID)]


class StaffKeyCreate(BaseModel):
    """A new planner or viewer key (``sites`` and ``grids`` are ignored for these roles)."""

    role: Literal["planner", "viewer"]
    name: KeyName = ""
    sites: list[SiteId] = Field(default_factory=list, max_length=1000)
    grids: list[GridName] = Field(default_factory=list, max_length=1000)


class SiteKeyCreate(BaseModel):
    """A new site key: the site ids it may check in at and read (at least one; "home" for home visits)."""

    role: Literal["site"]
    name: KeyName = ""
    sites: list[SiteId] = Field(min_length=1, max_length=1000)
    grids: list[GridName] = Field(default_factory=list, max_length=1000)


class GridKeyCreate(BaseModel):
    """A new grid-worker key: the grids (网格) whose missed households it calls (at least one)."""

    role: Literal["grid"]
    name: KeyName = ""
    sites: list[SiteId] = Field(default_factory=list, max_length=1000)
    grids: list[GridName] = Field(min_length=1, max_length=1000)


KeyCreate = Annotated[StaffKeyCreate | SiteKeyCreate | GridKeyCreate, Field(discriminator="role")]
"""A new API key: its role and, for the site role, the site ids, for the grid role the grids
("bootstrap" is reserved)."""


class KeyPublic(BaseModel):
    """An API key as listed (never the secret)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    role: str
    sites: list[str]
    grids: list[str] = Field(default_factory=list)
    revoked: bool
    created_at: UtcTime


class KeyCreated(KeyPublic):
    """A just-created key: the secret is shown this once."""

    key: str


class KeysPublic(BaseModel):
    data: list[KeyPublic]
    count: int


class ScenarioPublic(BaseModel):
    """A stored scenario."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    area: str
    households: int
    people: int
    buildings: int
    sites: int
    parameters: dict[str, Any]
    created_at: UtcTime


class ScenariosPublic(BaseModel):
    data: list[ScenarioPublic]
    count: int


class PlanCreate(BaseModel):
    """Plan a stored scenario (optionally with another planner seed); with ``previous_plan_id`` the
    next round: every household keeps its site and slot of that plan where still feasible
    (docs/replan.md, Rounds), and the new plan's ``parent_id`` is that plan."""

    scenario_id: int = Field(ge=1, le=2**31 - 1)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    previous_plan_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class JobPublic(BaseModel):
    """A background job and how far it has got."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    status: Literal["queued", "running", "succeeded", "failed"]
    stage: str
    progress: float
    error: str
    scenario_id: int | None
    plan_id: int | None
    created_at: UtcTime
    started_at: UtcTime | None
    finished_at: UtcTime | None


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class PlanPublic(BaseModel):
    """A stored plan with its plan.json summary."""

    id: int
    scenario_id: int | None
    job_id: int | None
    parent_id: int | None = Field(default=None, description="the plan this re-plan or next round was made from")
    area: str
    households: int
    published: bool
    created_at: UtcTime
    summary: dict[str, Any]


class PlansPublic(BaseModel):
    data: list[PlanPublic]
    count: int


class SiteLoadPublic(BaseModel):
    """People planned at a site in one slot or hour, against its capacity."""

    site_id: str
    start: str
    people: int
    capacity: int


class SiteLoadsPublic(BaseModel):
    data: list[SiteLoadPublic]
    count: int


class BuildingSlotPublic(BaseModel):
    """One (building, site or home, slot) row: what a building notice prints."""

    building_id: str
    name: str
    grid: str
    compound: str
    risk_zone: str
    mode: str
    site_id: str
    slot_start: str
    slot_end: str
    households: int
    people: int


class BuildingSlotsPublic(BaseModel):
    data: list[BuildingSlotPublic]
    count: int


class AssignmentPublic(BaseModel):
    """A household's assignment; the phone is masked."""

    household_id: str
    building_id: str
    unit: str
    room: str
    size: int
    mode: str
    site_id: str
    team: int | None
    slot_start: str
    slot_end: str
    walk_minutes: float | None
    over_max_walk: bool
    contact: str
    phone: str


class AssignmentsPublic(BaseModel):
    data: list[AssignmentPublic]
    count: int


class HomeVisitPublic(BaseModel):
    """A household sampled at home; the phone is masked."""

    household_id: str
    building_id: str
    unit: str
    room: str
    size: int
    team: int | None
    slot_start: str
    slot_end: str
    reason: str
    contact: str
    phone: str


class HomeVisitsPublic(BaseModel):
    data: list[HomeVisitPublic]
    count: int


class UnplacedPublic(BaseModel):
    """A household the plan could not place; the phone is masked."""

    household_id: str
    building_id: str
    size: int
    reason: str
    contact: str
    phone: str


class UnplacedsPublic(BaseModel):
    data: list[UnplacedPublic]
    count: int


class LookupQuery(BaseModel):
    """A resident's question: the resident code from the SMS (8 characters) and the last 4 digits
    of the registered phone. ``household_id`` (the registry id) is accepted only from staff tools
    with a planner or site key (401 without one); give exactly one of the two."""

    code: str | None = Field(default=None, min_length=1, max_length=32, pattern=PLAIN)
    household_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=PLAIN)
    phone_last4: str = Field(pattern=r"^[0-9]{4}$")
    plan_id: int | None = Field(default=None, ge=1, le=2**31 - 1)

    @model_validator(mode="after")
    def _one_key(self) -> LookupQuery:
        if (self.code is None) == (self.household_id is None):
            raise ValueError("give the resident code (code) or the household id (household_id), not both")
        return self


class LookupResult(BaseModel):
    """Only what the household needs: where, when, and what to do."""

    household_id: str
    site: str
    address: str
    mode: Literal["site", "home", "unplaced"]
    slot_start: str
    slot_end: str
    instruction: str


class AuditEntryPublic(BaseModel):
    """One audit entry: who, when, what, on which plan or scenario, how many records, from where."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    at: UtcTime
    key_id: int | None
    key_name: str
    role: str
    action: str
    plan_id: int | None
    scenario_id: int | None
    records: int
    client: str
    detail: str


class AuditEntriesPublic(BaseModel):
    data: list[AuditEntryPublic]
    count: int
