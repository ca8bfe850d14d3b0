"""ip access: IP auth entries and the IP allow lists

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:42:48.867210
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ip_allow_list_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("network", sa.String(length=49), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "type", "network", name="uq_ip_allow_list_entries_network"),
    )
    op.create_table(
        "ip_allow_lists",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("account_id", "type"),
    )
    op.create_table(
        "ip_auth",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sending_allowed", sa.Boolean(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ip_address"),
    )
    with op.batch_alter_table("ip_auth", schema=None) as batch_op:
        batch_op.create_index("ix_ip_auth_account", ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ip_auth", schema=None) as batch_op:
        batch_op.drop_index("ix_ip_auth_account")

    op.drop_table("ip_auth")
    op.drop_table("ip_allow_lists")
    op.drop_table("ip_allow_list_entries")
