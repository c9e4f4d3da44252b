"""Wire schemas (pydantic): one family per resource, XCreate / XPublic / XsPublic{data, count}."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AssignmentPublic",
    "AssignmentsPublic",
    "BuildingSlotPublic",
    "BuildingSlotsPublic",
    "HomeVisitPublic",
    "HomeVisitsPublic",
    "InputIssuePublic",
    "JobPublic",
    "JobsPublic",
    "KeyCreate",
    "KeyCreated",
    "KeyPublic",
    "KeysPublic",
    "LookupQuery",
    "LookupResult",
    "Message",
    "PlanCreate",
    "PlanPublic",
    "PlansPublic",
    "Role",
    "ScenarioPublic",
    "ScenariosPublic",
    "SiteLoadPublic",
    "SiteLoadsPublic",
    "UnplacedPublic",
    "UnplacedsPublic",
]

Role = Literal["planner", "site", "viewer"]


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


class KeyCreate(BaseModel):
    """A new API key: its role and, for the site role, the site ids it may read."""

    role: Role
    name: str = Field(default="", max_length=100)
    sites: list[str] = Field(default_factory=list, max_length=1000)


class KeyPublic(BaseModel):
    """An API key as listed (never the secret)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    role: str
    sites: list[str]
    revoked: bool
    created_at: dt.datetime


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
    created_at: dt.datetime


class ScenariosPublic(BaseModel):
    data: list[ScenarioPublic]
    count: int


class PlanCreate(BaseModel):
    """Plan a stored scenario (optionally with another planner seed)."""

    scenario_id: int = Field(ge=1, le=2**31 - 1)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)


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
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class PlanPublic(BaseModel):
    """A stored plan with its plan.json summary."""

    id: int
    scenario_id: int | None
    job_id: int | None
    area: str
    households: int
    published: bool
    created_at: dt.datetime
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
    """A resident's question: household code and the last 4 digits of the registered phone."""

    household_id: str = Field(min_length=1, max_length=64)
    phone_last4: str = Field(pattern=r"^\d{4}$")
    plan_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class LookupResult(BaseModel):
    """Only what the household needs: where, when, and what to do."""

    household_id: str
    site: str
    address: str
    mode: Literal["site", "home", "unplaced"]
    slot_start: str
    slot_end: str
    instruction: str
