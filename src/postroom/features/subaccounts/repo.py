"""SQL for subaccounts: rows of `accounts` whose parent is the caller's account."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from postroom.storage.tables import accounts, messages


def account(conn: Connection, account_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    return dict(row._mapping) if row else None


def exists(conn: Connection, account_id: str) -> bool:
    return conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is not None


def insert_subaccount(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(accounts).values(**row))


def update_subaccount(conn: Connection, account_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


def children(conn: Connection, parent_id: str) -> list[dict[str, Any]]:
    query = select(accounts).where(accounts.c.parent_id == parent_id).order_by(accounts.c.name, accounts.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def sent_since(conn: Connection, account_ids: list[str], since: datetime) -> dict[str, int]:
    """How many messages each account stored since `since`."""
    if not account_ids:
        return {}
    query = (
        select(messages.c.account_id, func.count())
        .where(messages.c.account_id.in_(account_ids), messages.c.created_at >= since)
        .group_by(messages.c.account_id)
    )
    return {str(a): int(n) for a, n in conn.execute(query)}


def take_invite_nonce(conn: Connection, account_id: str, nonce: str) -> bool:
    """Clear the invitation nonce if it is still `nonce`; False when another accept took it first."""
    done = conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.invite_nonce == nonce)
        .values(invite_nonce=None)
    )
    return done.rowcount == 1


def plans_of(conn: Connection, account_ids: Iterable[str], lock: bool) -> dict[str, int]:
    """The monthly plan of each subaccount among `account_ids` (master accounts have none); with
    `lock`, their rows are locked FOR UPDATE in id order (PostgreSQL)."""
    query = (
        select(accounts.c.id, accounts.c.plan_size)
        .where(accounts.c.id.in_(list(account_ids)), accounts.c.parent_id.is_not(None))
        .order_by(accounts.c.id)
    )
    if lock:
        query = query.with_for_update()
    return {str(r.id): int(r.plan_size) for r in conn.execute(query)}
