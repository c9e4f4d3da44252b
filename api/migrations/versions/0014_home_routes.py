"""home-visit routes (stop, expected arrival) and the extra walk minutes in the plan tables

Revision ID: 0011_routes
Revises: 0010_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_routes"
down_revision = "0013_whatif"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_assignments") as batch:
        batch.add_column(sa.Column("extra_walk_minutes", sa.Float(), nullable=True))
    with op.batch_alter_table("plan_home_visits") as batch:
        batch.add_column(sa.Column("stop", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("arrival", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("plan_home_visits") as batch:
        batch.drop_column("arrival")
        batch.drop_column("stop")
    with op.batch_alter_table("plan_assignments") as batch:
        batch.drop_column("extra_walk_minutes")
