"""forecasts: the rest of a plan's day forecast from its check-ins

Revision ID: 0011_forecast
Revises: 0010_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_forecast"
down_revision = "0010_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecasts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("replications", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_forecasts_plan_id", "forecasts", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_forecasts_plan_id", "forecasts")
    op.drop_table("forecasts")
