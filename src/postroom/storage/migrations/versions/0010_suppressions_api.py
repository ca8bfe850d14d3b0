"""Suppressions API: a block description per entry, and an index for /suppression/view's pages.

Revision ID: 0010
Revises: 0009 (0008 on the branch that wrote it; set to "0009" when merged after 0009_scheduler)
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"  # the coordinator sets "0009" when 0009_scheduler is merged first
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
