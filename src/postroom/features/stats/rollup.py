"""Keeping the rollups: one upsert per (tenant, day, sender identity, sender address, event) of a batch.

Called by events/repo.append inside the transaction that stores the events, so the rollups agree
with the events whatever door or worker wrote them. `processed` events carry their message's size
as bytes (one per recipient: a message to three recipients counts three emails, as SMTP2GO counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from postroom.features.stats import repo


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
    repo.add_to_rollups(conn, values)
