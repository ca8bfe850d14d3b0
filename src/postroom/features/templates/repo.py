"""SQL for email templates: one row per (account, caller-chosen id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from postroom.storage.tables import templates as table


def get(conn: Connection, account_id: str, template_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(table).where(table.c.account_id == account_id, table.c.template_id == template_id)
    ).first()
    return dict(row._mapping) if row else None


def insert(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert the row; False when the account already has a template with its id."""
    if get(conn, values["account_id"], values["template_id"]) is not None:
        return False
    try:
        with conn.begin_nested():
            conn.execute(table.insert().values(**values))
    except IntegrityError:  # made meanwhile by another process
        return False
    return True


def replace(conn: Connection, account_id: str, template_id: str, values: dict[str, Any]) -> bool:
    """Update the row (its id too, when `values` has a new one); False when the new id is taken."""
    try:
        with conn.begin_nested():
            conn.execute(
                update(table)
                .where(table.c.account_id == account_id, table.c.template_id == template_id)
                .values(**values)
            )
    except IntegrityError:
        return False
    return True


def remove(conn: Connection, account_id: str, template_id: str) -> bool:
    result = conn.execute(
        delete(table).where(table.c.account_id == account_id, table.c.template_id == template_id)
    )
    return bool(result.rowcount)


def listing(conn: Connection, account_id: str) -> list[dict[str, Any]]:
    """The account's templates without their bodies, for search."""
    columns = (table.c.template_id, table.c.name, table.c.subject, table.c.tags, table.c.updated_at)
    return [dict(r._mapping) for r in conn.execute(select(*columns).where(table.c.account_id == account_id))]
