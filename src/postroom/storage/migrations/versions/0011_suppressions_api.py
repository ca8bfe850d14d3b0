"""Suppressions API: a block description per entry, and an index for /suppression/view's pages.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("block_description", sa.Text(), server_default="", nullable=False))
        batch_op.create_index("ix_suppressions_account_created", ["account_id", "created_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("suppressions", schema=None) as batch_op:
        batch_op.drop_index("ix_suppressions_account_created")
        batch_op.drop_column("block_description")
