"""Subaccounts: the account profile columns (email, state, plan size, flags).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 18:53:24.739765
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=255), server_default="", nullable=False))
        batch_op.add_column(sa.Column("state", sa.String(length=16), server_default="active", nullable=False))
        batch_op.add_column(sa.Column("plan_size", sa.Integer(), server_default="10000", nullable=False))
        batch_op.add_column(
            sa.Column("dedicated_ip", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("archiving", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("enforce_2fa", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("sms_enabled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("sms_limit", sa.Integer(), server_default="1000", nullable=False))
        batch_op.add_column(sa.Column("ip_pool", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("ip_pool")
        batch_op.drop_column("sms_limit")
        batch_op.drop_column("sms_enabled")
        batch_op.drop_column("enforce_2fa")
        batch_op.drop_column("archiving")
        batch_op.drop_column("dedicated_ip")
        batch_op.drop_column("plan_size")
        batch_op.drop_column("state")
        batch_op.drop_column("email")
