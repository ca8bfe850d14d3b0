"""SQL for dedicated IP pools: which pool an account may use (pools themselves live in settings)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from postroom.storage.tables import accounts


def account_pool(conn: Connection, account_id: str) -> tuple[str | None, int | None] | None:
    """(the account's parent id, its `ip_pool`), or None for an unknown account."""
    row = conn.execute(
        select(accounts.c.parent_id, accounts.c.ip_pool).where(accounts.c.id == account_id)
    ).first()
    return None if row is None else (row.parent_id, row.ip_pool)
