"""The SQL of statistics: message facts for the rollups, and sums over the rollups."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from postroom.storage.tables import messages, sender_domains, stats_daily


def message_facts(conn: Connection, email_ids: Collection[str]) -> dict[str, tuple[str, str, int, str]]:
    """email_id → (sender identity, sender address in lower case, size, client IP)."""
    if not email_ids:
        return {}
    query = select(
        messages.c.email_id, messages.c.username, messages.c.sender, messages.c.size, messages.c.client_ip
    )
    rows = conn.execute(query.where(messages.c.email_id.in_(list(email_ids))))
    return {r.email_id: (r.username, r.sender.lower(), int(r.size), r.client_ip) for r in rows}


def totals(
    conn: Connection, accounts: Collection[str], start: str, end: str, username: str = "", group: str = ""
) -> list[dict[str, Any]]:
    """Sums of count and bytes by event (and by `group`: username, sender, domain or account_id) over
    the days start..end (inclusive, YYYY-MM-DD), for these accounts (and one sender identity)."""
    s = stats_daily
    columns = [s.c.event, func.sum(s.c.count).label("count"), func.sum(s.c.bytes).label("bytes")]
    grouping = [s.c.event]
    if group:
        columns += [s.c[group].label("key"), func.max(s.c.last_ip).label("last_ip")]
        grouping.append(s.c[group])
    query = select(*columns).where(s.c.account_id.in_(list(accounts)), s.c.day >= start, s.c.day <= end)
    if username:
        query = query.where(s.c.username == username)
    return [dict(r._mapping) for r in conn.execute(query.group_by(*grouping))]


def verified_domains(conn: Connection, accounts: Collection[str]) -> set[str]:
    rows = conn.execute(
        select(sender_domains.c.domain).where(
            sender_domains.c.account_id.in_(list(accounts)), sender_domains.c.dkim_verified.is_(True)
        )
    )
    return {r.domain for r in rows}


def add_to_rollups(conn: Connection, values: list[dict[str, Any]]) -> None:
    """Add counts and bytes to their rows, creating those that do not exist yet (one upsert)."""
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = make(stats_daily)
    statement = statement.on_conflict_do_update(
        index_elements=["account_id", "day", "username", "sender", "event"],
        set_={
            "count": stats_daily.c.count + statement.excluded.count,
            "bytes": stats_daily.c.bytes + statement.excluded.bytes,
            "last_ip": statement.excluded.last_ip,
        },
    )
    conn.execute(statement, values)
