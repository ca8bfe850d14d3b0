"""accounts and access

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:04:36.664117
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allowed_list_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("entry", sa.String(length=998), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "kind", "entry", name="uq_allowed_list_entries_entry"),
    )
    op.create_table(
        "allowed_list_modes",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("account_id", "kind"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", sa.JSON(), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox", sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table("sender_domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tracking_subdomain", sa.String(length=63), server_default="link", nullable=False)
        )
        batch_op.add_column(
            sa.Column("returnpath_subdomain", sa.String(length=63), server_default="em", nullable=False)
        )
        batch_op.add_column(
            sa.Column("dkim_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("rpath_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("tracking_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("dkim_status", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("rpath_status", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("tracking_status", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("verified_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("subaccount_access", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sender_domains", schema=None) as batch_op:
        batch_op.drop_column("subaccount_access")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("tracking_status")
        batch_op.drop_column("rpath_status")
        batch_op.drop_column("dkim_status")
        batch_op.drop_column("tracking_verified")
        batch_op.drop_column("rpath_verified")
        batch_op.drop_column("dkim_verified")
        batch_op.drop_column("returnpath_subdomain")
        batch_op.drop_column("tracking_subdomain")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sandbox")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("settings")

    op.drop_table("allowed_list_modes")
    op.drop_table("allowed_list_entries")
