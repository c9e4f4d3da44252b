"""The service's plan tables are built from the plan-file schema, and the migrations create them so."""

from __future__ import annotations

from dataclasses import replace

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, Float, Integer, MetaData, Text

from api.models import PLAN_TABLES, Base, plan_table
from api.storage import read_plan_files, store_plan
from sampler.planfiles.schema import FLOAT, INT, TABLES, TEXT, PlanColumn
from tests.api.plandir import plan_frames, plan_summary

_SQL = {TEXT: Text, INT: Integer, FLOAT: Float}


def test_plan_tables_are_the_schema_tables() -> None:
    """One plan_<name> table per schema table: plan_id, row, then the schema's columns and kinds."""
    assert list(PLAN_TABLES) == list(TABLES)
    for name, table in PLAN_TABLES.items():
        assert table.name == f"plan_{name}"
        assert [c.name for c in table.columns] == ["plan_id", "row", *TABLES[name].names,
                                                  *(c.name for c in TABLES[name].optional)]
        for column in TABLES[name].columns:
            sql = table.c[column.name]
            assert isinstance(sql.type, _SQL[column.kind]), (name, column.name)
            assert sql.nullable == (column.kind != TEXT), (name, column.name)


def test_a_new_schema_column_becomes_a_database_column() -> None:
    """A column added to a schema table appears in the table built from it, with its SQL type."""
    extended = replace(TABLES["unplaced"], columns=(*TABLES["unplaced"].columns, PlanColumn("tries", INT, "x")))
    table = plan_table(extended, MetaData())
    assert table.c["tries"].type.__class__ is Integer and table.c["tries"].nullable


def _differences(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


def test_migrations_create_the_tables_the_models_declare(engine: Engine) -> None:
    """After `upgrade head`, Alembic finds no difference between the database and the models."""
    assert _differences(engine, Base.metadata) == []


def test_a_schema_column_without_a_migration_is_noticed(engine: Engine) -> None:
    """The comparison above would catch a schema column the migrations do not create."""
    metadata = MetaData()
    for name, table in TABLES.items():
        if name == "unplaced":
            table = replace(table, columns=(*table.columns, PlanColumn("tries", INT, "x")))
        plan_table(table, metadata)
    added = [d for d in _differences(engine, metadata) if isinstance(d, tuple) and d[0] == "add_column"]
    assert [(d[2], d[3].name) for d in added] == [("plan_unplaced", "tries")]


def test_stored_plans_read_back_with_the_schema_dtypes(engine: Engine) -> None:
    """read_plan_files gives every table with the schema's columns and dtypes, as read_plan does."""
    files = read_plan_files(engine, store_plan(engine, plan_summary(), plan_frames()))
    for name, schema in TABLES.items():
        frame = getattr(files, name)
        assert list(frame.columns) == schema.names
        assert {c: frame[c].dtype for c in frame.columns} == schema.dtypes, name
