"""a re-plan's or round's change per household (assignments.csv's optional ``change`` column)

Revision ID: 0016_change
Revises: 0015_parent
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_change"
down_revision = "0015_parent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plan_assignments") as batch:
        batch.add_column(sa.Column("change", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_assignments") as batch:
        batch.drop_column("change")
