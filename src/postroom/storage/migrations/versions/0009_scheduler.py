"""The scheduler: leases electing one leader among processes, each periodic task's last run, and the
indexes retention deletes by.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:40:00.000000
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    leases = op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # the scheduler's lease exists from the start, free: taking it is one conditional UPDATE
    op.bulk_insert(leases, [{"name": "scheduler", "holder": "", "expires_at": datetime(1970, 1, 1)}])
    op.create_table(
        "scheduler_runs",
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task"),
    )
    op.create_index("ix_events_created", "events", ["created_at"], unique=False)
    op.create_index("ix_messages_created", "messages", ["created_at"], unique=False)
    op.create_index("ix_feedback_messages_received", "feedback_messages", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_feedback_messages_received", table_name="feedback_messages")
    op.drop_index("ix_messages_created", table_name="messages")
    op.drop_index("ix_events_created", table_name="events")
    op.drop_table("scheduler_runs")
    op.drop_table("leases")
