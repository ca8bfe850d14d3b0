"""An index for activity searches by event type over a date range (bench/stats_scale.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_account_event_created", "events", ["account_id", "event", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_events_account_event_created", table_name="events")
