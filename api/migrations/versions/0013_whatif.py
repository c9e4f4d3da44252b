"""what-if runs on a plan's scenario (POST /plans/{id}/whatif): summary and levels as JSON

Revision ID: 0013_whatif
Revises: 0010_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_whatif"
down_revision = "0011_forecast"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatifs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("replications", sa.Integer(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("levels", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_whatifs_plan_id", "whatifs", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_whatifs_plan_id", table_name="whatifs")
    op.drop_table("whatifs")
