"""ids never reused; simulations deleted with their plan

SQLite gave a deleted row's id to the next row (INTEGER PRIMARY KEY without AUTOINCREMENT): a new
plan then showed the old plan's simulations. The id tables are rebuilt with AUTOINCREMENT (their
sequences start above every id still referenced anywhere), simulations left by deleted plans are
removed, and simulations/simulation files get foreign keys that cascade on delete. PostgreSQL's
sequences never reuse ids; there only the orphans and foreign keys change.

Revision ID: 0004_ids
Revises: 0003_audit
Create Date: 2026-12-02 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_ids'
down_revision = '0003_audit'
branch_labels = None
depends_on = None

_ID_TABLES = ("api_keys", "scenarios", "jobs", "plans", "simulations")
# Highest id each table has ever handed out, as far as other tables still remember it.
_REFERENCED = {
    "scenarios": ("SELECT MAX(scenario_id) FROM jobs", "SELECT MAX(scenario_id) FROM plans"),
    "jobs": ("SELECT MAX(job_id) FROM plans", "SELECT MAX(job_id) FROM simulations"),
    "plans": ("SELECT MAX(plan_id) FROM jobs",),
    "simulations": (),
    "api_keys": (),
}


def _simulation_key(batch_op: object) -> None:
    batch_op.create_foreign_key("fk_simulations_plan_id_plans", "plans", ["plan_id"], ["id"],  # type: ignore[attr-defined]
                                ondelete="CASCADE")


def _rebuild_sqlite_with_autoincrement(bind: sa.Connection) -> None:
    # Rebuilding `scenarios` drops the old table; with foreign keys on, that would cascade to
    # scenario_files. PRAGMA foreign_keys cannot change inside a transaction, so keep a copy then.
    op.execute("PRAGMA foreign_keys=OFF")
    enforced = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
    if enforced:
        op.execute("CREATE TEMP TABLE _keep_scenario_files AS SELECT * FROM scenario_files")
    for table in _ID_TABLES:  # a rebuild keeps AUTOINCREMENT only if told again, so add the key here too
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
            if table == "simulations":
                _simulation_key(batch_op)
    if enforced:
        op.execute("DELETE FROM scenario_files")
        op.execute("INSERT INTO scenario_files SELECT * FROM _keep_scenario_files")
        op.execute("DROP TABLE _keep_scenario_files")
    for table in _ID_TABLES:
        high = max([bind.exec_driver_sql(f"SELECT MAX(id) FROM {table}").scalar() or 0]
                   + [bind.exec_driver_sql(q).scalar() or 0 for q in _REFERENCED[table]])
        op.execute(f"DELETE FROM sqlite_sequence WHERE name = '{table}'")
        op.execute(f"INSERT INTO sqlite_sequence (name, seq) VALUES ('{table}', {int(high)})")
    op.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    bind = op.get_bind()
    op.execute("DELETE FROM simulation_files WHERE simulation_id NOT IN "
               "(SELECT id FROM simulations WHERE plan_id IN (SELECT id FROM plans))")
    op.execute("DELETE FROM simulations WHERE plan_id NOT IN (SELECT id FROM plans)")
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite_with_autoincrement(bind)
    else:
        with op.batch_alter_table("simulations", schema=None) as batch_op:
            _simulation_key(batch_op)
    with op.batch_alter_table("simulation_files", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_simulation_files_simulation_id_simulations", "simulations",
                                    ["simulation_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("simulation_files", schema=None) as batch_op:
        batch_op.drop_constraint("fk_simulation_files_simulation_id_simulations", type_="foreignkey")
    with op.batch_alter_table("simulations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_simulations_plan_id_plans", type_="foreignkey")
