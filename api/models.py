"""Database tables: keys, scenarios, jobs, plans (SQLAlchemy 2 ORM) and the bulk plan tables (Core).

The plan tables are built from the plan-file schema (`sampler.planfiles.schema`): one per CSV file
of a plan directory, column for column, plus ``plan_id`` and ``row`` (the CSV row order). They hold up to millions of rows per plan and are
written with bulk inserts or COPY, never as ORM objects.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sampler.planfiles.schema import FLOAT, INT, TEXT, Kind, PlanTable
from sampler.planfiles.schema import TABLES as PLAN_FILE_TABLES

__all__ = [
    "PLAN_TABLES",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Checkin",
    "Followup",
    "Forecast",
    "Job",
    "Plan",
    "PlanBlob",
    "Scenario",
    "ScenarioFile",
    "Simulation",
    "SimulationFile",
    "Whatif",
    "plan_columns",
    "plan_table",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """Now in UTC, without tzinfo (stored as naive UTC on every backend)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# Ids are never reused: on SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands a deleted
# row's id to the next row (a new plan would inherit the old one's simulations and links).
_NO_REUSE: dict[str, Any] = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    """Declarative base holding the metadata of every table."""


class ApiKey(Base):
    """An API key; only a salted HMAC-SHA256 of the secret is stored."""

    __tablename__ = "api_keys"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))
    sites: Mapped[str] = mapped_column(Text, default="")
    grids: Mapped[str] = mapped_column(Text, default="")
    salt: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """Who did what to residents' data or to keys, when, on which plan, for how many records.

    Never holds personal data itself: no names, phones, addresses or household ids.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    key_name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(40), index=True)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    scenario_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    records: Mapped[int] = mapped_column(Integer, default=0)
    client: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")


class Scenario(Base):
    """An uploaded, validated scenario: parameters and registry summary."""

    __tablename__ = "scenarios"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    households: Mapped[int] = mapped_column(Integer, default=0)
    people: Mapped[int] = mapped_column(Integer, default=0)
    buildings: Mapped[int] = mapped_column(Integer, default=0)
    sites: Mapped[int] = mapped_column(Integer, default=0)
    hashes: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    purged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ScenarioFile(Base):
    """One registry file of a scenario, stored as uploaded."""

    __tablename__ = "scenario_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Job(Base):
    """A background job (plan or simulation) run in a worker process."""

    __tablename__ = "jobs"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(40), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[str] = mapped_column(Text, default="{}")
    scenario_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    plan_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner: Mapped[str] = mapped_column(String(100), default="")
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Plan(Base):
    """A stored plan: its plan.json summary; the tables live in the plan_* tables."""

    __tablename__ = "plans"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scenario_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The plan a re-plan (same day) or the next round was made from; None for a plan from scratch.
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    area: Mapped[str] = mapped_column(String(200))
    households: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text, default="{}")
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PlanBlob(Base):
    """A file belonging to a plan (the plan workbook)."""

    __tablename__ = "plan_blobs"
    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Simulation(Base):
    """A finished simulation of a plan: its summary.json; charts and tables in simulation_files."""

    __tablename__ = "simulations"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    replications: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SimulationFile(Base):
    """A file of a simulation (coverage.png, queues.png, coverage.csv, sites.csv)."""

    __tablename__ = "simulation_files"
    simulation_id: Mapped[int] = mapped_column(ForeignKey("simulations.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Whatif(Base):
    """A finished what-if run on a plan's scenario: its summary.json and the whatif.csv rows (JSON)."""

    __tablename__ = "whatifs"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    replications: Mapped[int] = mapped_column(Integer, default=1)
    params: Mapped[str] = mapped_column(Text, default="{}")
    summary: Mapped[str] = mapped_column(Text, default="{}")
    levels: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Forecast(Base):
    """A forecast of the rest of a plan's day from its check-ins (``sampler forecast`` as a job).

    The row is made when the job is queued (``result`` '' until it succeeds); ``at`` is the time
    forecast from, ``result`` the forecast.json of `sim.forecast`.
    """

    __tablename__ = "forecasts"
    __table_args__ = _NO_REUSE
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    replications: Mapped[int] = mapped_column(Integer, default=20)
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Checkin(Base):
    """One household (or some of its members) sampled: a row per accepted check-in.

    ``checkin_id`` is the id the device made; it is unique per plan, so a re-sent batch stores
    nothing twice. ``seq`` orders the rows: every worker process keeps the day's ledger in memory
    and reads only the rows after the last ``seq`` it applied. ``household`` and ``site`` are row
    indices in the plan (registry order; −1 = a home visit).
    """

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("plan_id", "checkin_id", name="uq_checkins_plan_checkin"),
                      Index("ix_checkins_plan_seq", "plan_id", "seq"))
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    checkin_id: Mapped[str] = mapped_column(String(64))
    household: Mapped[int] = mapped_column(Integer)
    site: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    people: Mapped[int] = mapped_column(Integer)
    tube: Mapped[str] = mapped_column(String(64), default="")
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Followup(Base):
    """A grid worker's follow-up of a missed household; the newest per household counts."""

    __tablename__ = "followups"
    __table_args__ = (Index("ix_followups_plan_seq", "plan_id", "seq"),)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    household: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(200), default="")
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# The SQL type of each kind of plan-file column; text is never NULL ('' for blank), numbers may be.
_TYPES: dict[Kind, type[Text | Integer | Float]] = {TEXT: Text, INT: Integer, FLOAT: Float}
# Lookup indexes, each led by plan_id; a table not listed has only its primary key.
_INDEXES: dict[str, list[tuple[str, ...]]] = {
    "assignments": [("household_id",), ("building_id",), ("site_id", "slot_start")],
    "site_load": [("site_id",)],
    "buildings": [("building_id",), ("site_id",)],
    "home_visits": [("household_id",)],
    "unplaced": [("household_id",)],
    "sites": [("site_id",)],
    "contacts": [("household_id",), ("code",)],
}


def plan_columns(table: PlanTable) -> list[Column[Any]]:
    """The SQLAlchemy columns of a plan-file table (`sampler.planfiles.schema`), in file order, then
    its optional columns."""
    return [*(Column(c.name, _TYPES[c.kind], nullable=c.kind != TEXT) for c in table.columns),
            *(Column(c.name, _TYPES[c.kind], nullable=True) for c in table.optional)]  # NULL: the plan has none


def plan_table(table: PlanTable, metadata: MetaData) -> Table:
    """``plan_<name>``: (plan_id, row) — row is the CSV row order — then the file's columns."""
    indexes = [Index(f"ix_plan_{table.name}_{'_'.join(cols)}", "plan_id", *cols) for cols in _INDEXES.get(table.name, [])]
    return Table(
        f"plan_{table.name}", metadata,
        Column("plan_id", Integer, primary_key=True, autoincrement=False),
        Column("row", Integer, primary_key=True, autoincrement=False),
        *plan_columns(table), *indexes,
    )


PLAN_TABLES: dict[str, Table] = {name: plan_table(table, Base.metadata) for name, table in PLAN_FILE_TABLES.items()}
