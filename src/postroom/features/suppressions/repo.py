"""The SQL of the suppression list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from postroom.storage.tables import suppressions


def add_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert suppressions; an address already suppressed for the same type is left as it was."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(suppressions).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite.insert(suppressions).on_conflict_do_nothing(), rows)


def row(
    account_id: str, address: str, kind: str, reason: str, email_id: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "email_address": address.lower(),
        "type": kind,
        "reason": reason,
        "email_id": email_id,
        "created_at": now,
    }


def suppressed_among(conn: Connection, account_id: str, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses (lower-cased) are suppressed, by their own entry or their domain's."""
    wanted = {a.lower() for a in addresses}
    if not wanted:
        return set()
    domains = {a.rpartition("@")[2] for a in wanted}
    hits = set(
        conn.execute(
            select(func.lower(suppressions.c.email_address)).where(
                suppressions.c.account_id == account_id,
                or_(suppressions.c.email_address.in_(wanted), suppressions.c.email_address.in_(domains)),
            )
        ).scalars()
    )
    return {a for a in wanted if a in hits or a.rpartition("@")[2] in hits}
