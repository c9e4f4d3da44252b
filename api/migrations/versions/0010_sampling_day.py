"""the sampling day: check-ins, follow-ups, grid keys, resident codes in the plan tables

Revision ID: 0010_day
Revises: 0004_ids
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_day"
down_revision = "0004_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("grids", sa.Text(), nullable=False, server_default=""))
    for table in ("plan_assignments", "plan_contacts"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("code", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_plan_contacts_code", "plan_contacts", ["plan_id", "code"])
    op.create_table(
        "checkins",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("checkin_id", sa.String(length=64), nullable=False),
        sa.Column("household", sa.Integer(), nullable=False),
        sa.Column("site", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("tube", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("plan_id", "checkin_id", name="uq_checkins_plan_checkin"),
    )
    op.create_index("ix_checkins_plan_seq", "checkins", ["plan_id", "seq"])
    op.create_table(
        "followups",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("household", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_followups_plan_seq", "followups", ["plan_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_followups_plan_seq", "followups")
    op.drop_table("followups")
    op.drop_index("ix_checkins_plan_seq", "checkins")
    op.drop_table("checkins")
    op.drop_index("ix_plan_contacts_code", "plan_contacts")
    for table in ("plan_assignments", "plan_contacts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("code")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("grids")
