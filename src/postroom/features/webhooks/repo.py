"""The SQL of /webhook/*."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from postroom.storage.tables import webhooks


def count(conn: Connection, account_id: str) -> int:
    return int(conn.execute(select(func.count()).where(webhooks.c.account_id == account_id)).scalar_one())


def insert_webhook(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    webhook_id = conn.execute(insert(webhooks).values(**row).returning(webhooks.c.id)).scalar_one()
    return {**row, "id": webhook_id}


def get(conn: Connection, account_id: str, webhook_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(webhooks).where(webhooks.c.account_id == account_id, webhooks.c.id == webhook_id)
    ).first()
    return None if row is None else dict(row._mapping)


def of_account(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(webhooks).where(webhooks.c.account_id == account_id).order_by(webhooks.c.id))
    return [dict(r._mapping) for r in rows]


def change(conn: Connection, account_id: str, webhook_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        update(webhooks)
        .where(webhooks.c.account_id == account_id, webhooks.c.id == webhook_id)
        .values(**values)
    )


def remove(conn: Connection, account_id: str, webhook_id: int) -> None:
    conn.execute(delete(webhooks).where(webhooks.c.account_id == account_id, webhooks.c.id == webhook_id))


def every_webhook(conn: Connection) -> list[dict[str, Any]]:
    """Every account's webhooks (the CLI's list)."""
    return [dict(r._mapping) for r in conn.execute(select(webhooks).order_by(webhooks.c.id))]
