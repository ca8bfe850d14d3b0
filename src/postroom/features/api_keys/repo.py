"""SQL for accounts, API keys and the server's own state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from postroom.features.activity.match import contains
from postroom.storage.tables import accounts, api_keys, server_state


def master_account_id(conn: Connection) -> str | None:
    """The bootstrap (first) master account."""
    query = (
        select(accounts.c.id)
        .where(accounts.c.parent_id.is_(None))
        .order_by(accounts.c.created_at, accounts.c.id)
    )
    return conn.execute(query.limit(1)).scalar()


def insert_account(conn: Connection, account_id: str, name: str, now: datetime) -> None:
    conn.execute(insert(accounts).values(id=account_id, name=name, parent_id=None, created_at=now))


def insert_key(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(api_keys).values(**row))


def count_keys(conn: Connection, account_id: str) -> int:
    return len(conn.execute(select(api_keys.c.id).where(api_keys.c.account_id == account_id)).all())


def key_by_hash(conn: Connection, key_hash: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(api_keys, accounts.c.name.label("account_name"))
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .where(api_keys.c.key_hash == key_hash)
    ).first()
    return dict(row._mapping) if row else None


def key_by_id(conn: Connection, key_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(api_keys, accounts.c.name.label("account_name"))
        .join(accounts, accounts.c.id == api_keys.c.account_id)
        .where(api_keys.c.id == key_id)
    ).first()
    return dict(row._mapping) if row else None


def key_of(conn: Connection, account_id: str, key_id: str) -> dict[str, Any] | None:
    """The account's key with this identity (compared without letter case); None for another account's."""
    row = conn.execute(
        select(api_keys).where(
            api_keys.c.account_id == account_id, func.upper(api_keys.c.id) == key_id.upper()
        )
    ).first()
    return dict(row._mapping) if row else None


def keys_of(conn: Connection, account_id: str, search: str = "") -> list[dict[str, Any]]:
    """The account's keys, oldest first; `search` keeps those whose description contains it (any case)."""
    query = select(api_keys).where(api_keys.c.account_id == account_id)
    if search:
        query = query.where(contains(api_keys.c.description, search))
    return [dict(r._mapping) for r in conn.execute(query.order_by(api_keys.c.created_at, api_keys.c.id))]


def update_key(conn: Connection, key_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))


def delete_key(conn: Connection, key_id: str) -> None:
    conn.execute(delete(api_keys).where(api_keys.c.id == key_id))


def replace_key_hash(conn: Connection, key_id: str, key_hash: str) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(key_hash=key_hash))


def get_state(conn: Connection, name: str) -> str | None:
    return conn.execute(select(server_state.c.value).where(server_state.c.name == name)).scalar()


def set_state(conn: Connection, name: str, value: str) -> None:
    conn.execute(insert(server_state).values(name=name, value=value))


def replace_state(conn: Connection, name: str, value: str) -> None:
    conn.execute(update(server_state).where(server_state.c.name == name).values(value=value))


def account_standing(conn: Connection, account_id: str) -> tuple[str | None, str] | None:
    """The account's parent (None for a master account) and state; None when there is no account."""
    row = conn.execute(
        select(accounts.c.parent_id, accounts.c.state).where(accounts.c.id == account_id)
    ).first()
    return (row.parent_id, row.state) if row else None
