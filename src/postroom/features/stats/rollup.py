"""Keeping the rollups: one upsert per (tenant, day, sender identity, sender address, event) of a batch.

Called by events/repo.append inside the transaction that stores the events, so the rollups agree
with the events whatever door or worker wrote them. `processed` events carry their message's size
as bytes (one per recipient: a message to three recipients counts three emails, as SMTP2GO counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from postroom.features.stats import repo
from postroom.storage.tables import stats_daily


def add(conn: Connection, stored: Sequence[dict[str, Any]]) -> None:
    senders = repo.message_facts(conn, {row["email_id"] for row in stored})
    totals: dict[tuple[str, str, str, str, str], list[Any]] = {}
    for row in stored:
        facts = senders.get(row["email_id"])
        if facts is None:
            continue
        username, sender, size, ip = facts
        key = (row["account_id"], row["created_at"].strftime("%Y-%m-%d"), username, sender, row["event"])
        total = totals.setdefault(key, [0, 0, ip])
        total[0] += 1
        total[1] += size if row["event"] == "processed" else 0
        total[2] = ip or total[2]
    if not totals:
        return
    values = [
        {
            "account_id": a,
            "day": d,
            "username": u,
            "sender": s,
            "event": e,
            "domain": s.rpartition("@")[2],
            "count": n,
            "bytes": b,
            "last_ip": ip,
        }
        for (a, d, u, s, e), (n, b, ip) in sorted(
            totals.items()
        )  # sorted: a stable lock order across processes
    ]
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
