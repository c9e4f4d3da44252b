"""Storing plans: the seven plan tables in one transaction, in bulk (COPY on PostgreSQL).

`store_plan` is what both the plan job and the benchmark call; `read_plan_files` rebuilds the
`sampler.planfiles.read.PlanFiles` of a stored plan (optionally only some buildings) for the exports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from api.db import is_sqlite
from api.models import PLAN_TABLES, Forecast, Plan, PlanBlob, Simulation, SimulationFile, Whatif
from sampler.errors import InputError, InputIssue
from sampler.planfiles.read import PlanFiles
from sampler.planfiles.schema import INT, TABLES, TEXT

__all__ = ["delete_plan", "normalise_frame", "read_plan_files", "store_plan"]

_CHUNK = 50_000


def stored_columns(name: str) -> tuple[Any, ...]:
    """The columns a plan table keeps in the database: the schema's, then its optional ones (a
    re-plan's ``change``), which are NULL for plans without them."""
    table = TABLES[name]
    return (*table.columns, *table.optional)


def normalise_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with exactly the stored columns, text as str ('' for blank; None for an optional
    column the plan does not have), numbers or NaN."""
    table = TABLES[name]
    missing = [c for c in table.names if c not in frame.columns]
    if missing:
        raise InputError([InputIssue(table.file, None, c, "", "write the plan with `sampler plan`")
                          for c in missing])
    out = {}
    for column in stored_columns(name):
        col = column.name
        if col not in frame.columns:  # an optional column this plan does not have
            out[col] = np.full(len(frame), None if column.kind == TEXT else np.nan, dtype=object if column.kind == TEXT
                               else np.float64)
            continue
        values = frame[col]
        if column.kind == TEXT:
            out[col] = values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)
        else:
            num = pd.to_numeric(values.replace("", np.nan), errors="coerce")
            out[col] = num.to_numpy(dtype=np.float64)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _rows(frame: pd.DataFrame, name: str, plan_id: int) -> Iterable[tuple[Any, ...]]:
    """Plain tuples (plan_id, row, *columns) with None for missing numbers, ints as int."""
    cols: list[list[Any]] = []
    for column in stored_columns(name):
        arr, is_int = frame[column.name].to_numpy(), column.kind == INT
        if column.kind == TEXT:
            cols.append(arr.tolist())
        else:
            mask = np.isnan(arr)
            values = arr.astype(np.int64).tolist() if is_int and not mask.any() else (
                [None if m else (int(v) if is_int else float(v)) for v, m in zip(arr.tolist(), mask.tolist(), strict=True)]
                if mask.any() else arr.tolist())
            cols.append(values)
    n = len(frame)
    return zip([plan_id] * n, range(n), *cols, strict=True)


def _insert_sqlite(conn: Connection, name: str, frame: pd.DataFrame, plan_id: int) -> None:
    table = PLAN_TABLES[name]
    names = ["plan_id", "row", *(c.name for c in stored_columns(name))]
    sql = f'INSERT INTO {table.name} ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in names)}) VALUES ({", ".join("?" * len(names))})'
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    rows = list(_rows(frame, name, plan_id))
    for start in range(0, len(rows), _CHUNK):
        cursor.executemany(sql, rows[start:start + _CHUNK])
    cursor.close()


def _copy_postgres(conn: Connection, name: str, frame: pd.DataFrame, plan_id: int) -> None:
    """COPY the rows in (psycopg escapes every value; None is NULL)."""
    table = PLAN_TABLES[name]
    quoted = ", ".join(f'"{c}"' for c in ["plan_id", "row", *(c.name for c in stored_columns(name))])
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in _rows(frame, name, plan_id):
            copy.write_row(row)


def _insert_generic(conn: Connection, name: str, frame: pd.DataFrame, plan_id: int) -> None:
    names = ["plan_id", "row", *(c.name for c in stored_columns(name))]
    rows = [dict(zip(names, r, strict=True)) for r in _rows(frame, name, plan_id)]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(insert(PLAN_TABLES[name]), rows[start:start + _CHUNK])


def store_plan(
    engine: Engine,
    summary: dict[str, Any],
    frames: dict[str, pd.DataFrame],
    scenario_id: int | None = None,
    job_id: int | None = None,
    workbook: bytes | None = None,
    before_commit: Callable[[Connection, int], None] | None = None,
    parent_id: int | None = None,
) -> int:
    """Store a plan (plan.json summary and the seven tables) in one transaction; return its id.

    Either everything is stored or, on any error, nothing. ``before_commit`` runs inside the
    transaction after the rows are written (the job marks itself done there). ``parent_id``: the
    plan a re-plan or the next round was made from.
    """
    normal = {name: normalise_frame(name, frames[name]) for name in TABLES}
    writer = _insert_sqlite if is_sqlite(engine) else (
        _copy_postgres if engine.dialect.name == "postgresql" else _insert_generic)
    with engine.begin() as conn:
        plan_id = conn.execute(insert(Plan).values(
            scenario_id=scenario_id, job_id=job_id, parent_id=parent_id, area=str(summary.get("area", "")),
            households=int(summary.get("households", len(normal["contacts"]))),
            summary=json.dumps(summary, ensure_ascii=False), published=False,
        ).returning(Plan.id)).scalar_one()
        for name, frame in normal.items():
            writer(conn, name, frame, plan_id)
        if engine.dialect.name == "postgresql":
            # Fresh statistics, so lookups use the indexes at once instead of after autovacuum.
            for table in PLAN_TABLES.values():
                conn.exec_driver_sql(f"ANALYZE {table.name}")
        if workbook is not None:
            conn.execute(insert(PlanBlob).values(plan_id=plan_id, name="plan.xlsx", content=workbook))
        if before_commit is not None:
            before_commit(conn, plan_id)
    return int(plan_id)


def delete_plan(conn: Connection, plan_id: int) -> None:
    """Delete a plan, all its rows, its simulations and what-if runs (inside the caller's transaction)."""
    conn.execute(delete(Plan).where(Plan.id == plan_id))
    sims = select(Simulation.id).where(Simulation.plan_id == plan_id).scalar_subquery()
    conn.execute(delete(SimulationFile).where(SimulationFile.simulation_id.in_(sims)))
    conn.execute(delete(Simulation).where(Simulation.plan_id == plan_id))
    conn.execute(delete(Whatif).where(Whatif.plan_id == plan_id))
    conn.execute(delete(Forecast).where(Forecast.plan_id == plan_id))
    for table in PLAN_TABLES.values():
        conn.execute(delete(table).where(table.c.plan_id == plan_id))
    conn.execute(delete(PlanBlob).where(PlanBlob.plan_id == plan_id))


def _frame(conn: Connection, name: str, plan_id: int, where: Any = None) -> pd.DataFrame:
    """A stored plan table with the plan-file schema's columns and dtypes (as `read_plan` gives);
    an optional column only when the plan has it (not all NULL)."""
    table, schema = PLAN_TABLES[name], TABLES[name]
    names = [c.name for c in stored_columns(name)]
    query = select(*(table.c[c] for c in names)).where(table.c.plan_id == plan_id)
    if where is not None:
        query = query.where(where)
    result = conn.execute(query.order_by(table.c.row))
    frame = pd.DataFrame(result.fetchall(), columns=names)
    for column in schema.optional:
        if frame[column.name].isna().all():
            frame = frame.drop(columns=column.name)
    for column in stored_columns(name):
        if column.name not in frame.columns:
            continue
        values = frame[column.name]
        if column.kind == TEXT:
            frame[column.name] = values.astype(object).fillna("").astype(str)
        elif column.kind == INT and not column.blank:
            frame[column.name] = pd.to_numeric(values).fillna(0).astype(np.int64)
        else:
            frame[column.name] = pd.to_numeric(values).astype(column.dtype)
    return schema.conform(frame)


def read_plan_files(engine: Engine, plan_id: int, building_ids: list[str] | None = None) -> PlanFiles:
    """The stored plan as PlanFiles; with ``building_ids`` only those buildings' households."""
    with engine.connect() as conn:
        row = conn.execute(select(Plan.summary).where(Plan.id == plan_id)).one()
        a, b, h, c = (PLAN_TABLES[n] for n in ("assignments", "buildings", "home_visits", "contacts"))
        if building_ids is None:
            frames = {name: _frame(conn, name, plan_id) for name in TABLES}
        else:
            frames = {
                "assignments": _frame(conn, "assignments", plan_id, a.c.building_id.in_(building_ids)),
                "buildings": _frame(conn, "buildings", plan_id, b.c.building_id.in_(building_ids)),
                "home_visits": _frame(conn, "home_visits", plan_id, h.c.building_id.in_(building_ids)),
                "sites": _frame(conn, "sites", plan_id),
                "site_load": _frame(conn, "site_load", plan_id, PLAN_TABLES["site_load"].c.row < 0),
                "unplaced": _frame(conn, "unplaced", plan_id, PLAN_TABLES["unplaced"].c.building_id.in_(building_ids)),
                "contacts": _frame(conn, "contacts", plan_id, c.c.row < 0),
            }
    return PlanFiles(directory=Path(f"plan-{plan_id}"), summary=json.loads(row[0]), **frames)
