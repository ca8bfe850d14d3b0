"""SQL for single sender emails: one row per (account, address), its verification state and nonce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from postroom.storage.tables import single_senders as table


def ensure(conn: Connection, account_id: str, address: str, nonce: str, now: datetime) -> dict[str, Any]:
    """The account's row for the address, inserted (unverified, with `nonce`) when there is none.

    The insert ignores a row made meanwhile by another process, so two adds never collide.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = {"account_id": account_id, "email_address": address, "verified": False}
    conn.execute(insert(table).values(**values, nonce=nonce, created_at=now).on_conflict_do_nothing())
    row = conn.execute(
        select(table).where(table.c.account_id == account_id, table.c.email_address == address)
    ).one()
    return dict(row._mapping)


def set_nonce(conn: Connection, row_id: int, nonce: str) -> None:
    conn.execute(update(table).where(table.c.id == row_id).values(nonce=nonce))


def listing(conn: Connection, account_id: str, address: str = "") -> list[dict[str, Any]]:
    """The account's single senders (only `address`, when given), oldest first."""
    query = select(table.c.email_address, table.c.verified).where(table.c.account_id == account_id)
    if address:
        query = query.where(table.c.email_address == address)
    return [dict(r._mapping) for r in conn.execute(query.order_by(table.c.id))]


def remove(conn: Connection, account_id: str, address: str) -> bool:
    """Delete the account's row for the address; False when there was none."""
    result = conn.execute(
        delete(table).where(table.c.account_id == account_id, table.c.email_address == address)
    )
    return bool(result.rowcount)


def by_id(conn: Connection, row_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(table).where(table.c.id == row_id)).first()
    return dict(row._mapping) if row else None


def mark_verified(conn: Connection, row_id: int, now: datetime) -> None:
    """Mark the row verified; a row already verified keeps its first verification time."""
    conn.execute(
        update(table)
        .where(table.c.id == row_id, table.c.verified.is_(False))
        .values(verified=True, verified_at=now)
    )


def verified_addresses(conn: Connection, account_id: str) -> frozenset[str]:
    """The account's verified single sender addresses (lower case), for the verified-sender policy."""
    rows = conn.execute(
        select(table.c.email_address).where(table.c.account_id == account_id, table.c.verified.is_(True))
    )
    return frozenset(rows.scalars())
