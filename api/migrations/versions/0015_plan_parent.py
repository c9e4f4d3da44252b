"""a plan's parent: the plan a re-plan or a next round was made from

Revision ID: 0015_parent
Revises: 0014_routes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_parent"
down_revision = "0014_routes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.create_index("ix_plans_parent_id", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_index("ix_plans_parent_id")
        batch.drop_column("parent_id")
