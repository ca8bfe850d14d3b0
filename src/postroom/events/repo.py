"""Appending events, the one way every door and worker writes them.

Whatever is derived from events and must never miss one (the webhook outbox; later the stats
rollups) is written here, in the same transaction as the events themselves: if the events commit,
so does everything derived from them, and if the process dies first, neither does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert

from postroom.dispatch import outbox
from postroom.storage.tables import events


def append(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (the `events` table's columns) and queue their webhook notifications."""
    if not rows:
        return
    ids = conn.execute(insert(events).returning(events.c.id, sort_by_parameter_order=True), list(rows))
    stored = [{**row, "id": event_id} for row, event_id in zip(rows, ids.scalars().all(), strict=True)]
    outbox.fan_out(conn, stored)
