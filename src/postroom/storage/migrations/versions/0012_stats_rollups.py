"""Statistics rollups (stats_daily), filled from the events already stored.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_daily",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_ip", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", "username", "sender", "event"),
    )
    op.create_index("ix_stats_daily_account_day", "stats_daily", ["account_id", "day"], unique=False)
    day = (
        "to_char(e.created_at, 'YYYY-MM-DD')"
        if op.get_bind().dialect.name == "postgresql"
        else "date(e.created_at)"
    )
    domain = (
        "split_part(lower(m.sender), '@', 2)"
        if op.get_bind().dialect.name == "postgresql"
        else ("substr(lower(m.sender), instr(m.sender, '@') + 1)")
    )
    op.execute(
        "INSERT INTO stats_daily (account_id, day, username, sender, event, domain, count, bytes, last_ip) "
        f"SELECT e.account_id, {day}, m.username, lower(m.sender), e.event, {domain}, count(*), "
        "sum(CASE WHEN e.event = 'processed' THEN m.size ELSE 0 END), max(m.client_ip) "
        "FROM events e JOIN messages m ON m.email_id = e.email_id "
        f"GROUP BY e.account_id, {day}, m.username, lower(m.sender), e.event, {domain}"
    )


def downgrade() -> None:
    op.drop_index("ix_stats_daily_account_day", table_name="stats_daily")
    op.drop_table("stats_daily")
