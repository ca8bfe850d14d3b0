"""SQL for SMTP users: one row per user, the password only as its Argon2 hash."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from postroom.storage.tables import accounts, smtp_users


def insert_user(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(smtp_users).values(**row))


def username_taken(conn: Connection, username: str) -> bool:
    """Usernames are unique across all accounts: SMTP AUTH names no account."""
    return conn.execute(select(smtp_users.c.id).where(smtp_users.c.username == username)).first() is not None


def user_of(conn: Connection, account_id: str, username: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(smtp_users).where(smtp_users.c.account_id == account_id, smtp_users.c.username == username)
    ).first()
    return dict(row._mapping) if row else None


def users_of(conn: Connection, account_id: str, username: str = "") -> list[dict[str, Any]]:
    query = select(smtp_users).where(smtp_users.c.account_id == account_id)
    if username:
        query = query.where(smtp_users.c.username == username)
    return [dict(r._mapping) for r in conn.execute(query.order_by(smtp_users.c.username))]


def update_user(conn: Connection, user_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(smtp_users).where(smtp_users.c.id == user_id).values(**values))


def delete_user(conn: Connection, user_id: int) -> None:
    conn.execute(delete(smtp_users).where(smtp_users.c.id == user_id))


def login_row(conn: Connection, username: str) -> dict[str, Any] | None:
    """A user by username alone (for SMTP AUTH), with its account's name."""
    row = conn.execute(
        select(smtp_users, accounts.c.name.label("account_name"))
        .join(accounts, accounts.c.id == smtp_users.c.account_id)
        .where(smtp_users.c.username == username)
    ).first()
    return dict(row._mapping) if row else None
