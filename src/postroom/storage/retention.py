"""The SQL of retention: delete history older than a cutoff, one bounded batch per call.

Each function deletes at most `limit` rows (so one call is one short transaction that never holds
up sends for long) and returns how many it deleted; callers repeat until it returns less than
`limit`. A message goes only when it is past the cutoff, none of its deliveries is still queued
(waiting, deferred or scheduled) and none of its events is left: its events are its history, so a
message is kept as long as its newest event is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, select

from postroom.storage.tables import deliveries, events, feedback_messages, messages, server_state


def delete_events(conn: Connection, cutoff: datetime, limit: int) -> int:
    ids = select(events.c.id).where(events.c.created_at < cutoff).order_by(events.c.created_at).limit(limit)
    batch = [r.id for r in conn.execute(ids)]
    if batch:
        conn.execute(delete(events).where(events.c.id.in_(batch)))
    return len(batch)


def delete_messages(conn: Connection, cutoff: datetime, limit: int) -> int:
    pending = exists().where(
        and_(deliveries.c.email_id == messages.c.email_id, deliveries.c.status == "queued")
    )
    history = exists().where(events.c.email_id == messages.c.email_id)
    ids = (
        select(messages.c.email_id)
        .where(messages.c.created_at < cutoff, ~pending, ~history)
        .order_by(messages.c.created_at)
        .limit(limit)
    )
    batch = [r.email_id for r in conn.execute(ids)]
    if batch:
        conn.execute(delete(deliveries).where(deliveries.c.email_id.in_(batch)))
        conn.execute(delete(messages).where(messages.c.email_id.in_(batch)))
    return len(batch)


def delete_feedback(conn: Connection, cutoff: datetime, limit: int) -> int:
    ids = (
        select(feedback_messages.c.id)
        .where(feedback_messages.c.received_at < cutoff)
        .order_by(feedback_messages.c.received_at)
        .limit(limit)
    )
    batch = [r.id for r in conn.execute(ids)]
    if batch:
        conn.execute(delete(feedback_messages).where(feedback_messages.c.id.in_(batch)))
    return len(batch)


def delete_expired_state(conn: Connection, prefix: str, now_unix: int, limit: int) -> int:
    """`server_state` rows named `prefix…` whose value (Unix seconds they matter until) has passed."""
    rows = conn.execute(
        select(server_state.c.name, server_state.c.value)
        .where(server_state.c.name.startswith(prefix, autoescape=True))
        .order_by(server_state.c.name)
    )
    expired = [r.name for r in rows if not r.value.isdigit() or int(r.value) < now_unix][:limit]
    if expired:
        conn.execute(delete(server_state).where(server_state.c.name.in_(expired)))
    return len(expired)
