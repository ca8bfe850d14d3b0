"""The SQL of feedback intake: find the delivery a report is about, record what it says, keep the report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from postroom.events import repo as event_log
from postroom.storage.tables import deliveries, feedback_messages, messages


def delivery(conn: Connection, delivery_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(deliveries.c.id, deliveries.c.email_id, deliveries.c.account_id, deliveries.c.recipient).where(
            deliveries.c.id == delivery_id
        )
    ).first()
    return dict(row._mapping) if row else None


def delivery_of_message(conn: Connection, email_id: str, recipient: str) -> dict[str, Any] | None:
    """The delivery of a message to a recipient (case-insensitive), when the message exists."""
    row = conn.execute(
        select(deliveries.c.id, deliveries.c.email_id, deliveries.c.account_id, deliveries.c.recipient).where(
            deliveries.c.email_id == email_id, func.lower(deliveries.c.recipient) == recipient.lower()
        )
    ).first()
    return dict(row._mapping) if row else None


def message_exists(conn: Connection, email_id: str) -> bool:
    return (
        conn.execute(select(messages.c.email_id).where(messages.c.email_id == email_id)).first() is not None
    )


def add_event(conn: Connection, target: dict[str, Any], name: str, now: datetime, **fields: str) -> None:
    event_log.append(
        conn,
        [
            {
                "account_id": target["account_id"],
                "email_id": target["email_id"],
                "delivery_id": target["id"],
                "recipient": target["recipient"],
                "event": name,
                "created_at": now,
                "smtp_response": fields.get("smtp_response", ""),
                "host": fields.get("host", ""),
                "reason": fields.get("reason", ""),
            }
        ],
    )


def mark_bounced(conn: Connection, delivery_id: int, response: str, now: datetime) -> None:
    """A bounce that arrives after the next hop accepted the mail: the delivery ends as bounced."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id)
        .values(status="bounced", last_response=response, updated_at=now, locked_by=None, locked_until=None)
    )


def keep(conn: Connection, row: dict[str, Any]) -> int:
    result = conn.execute(insert(feedback_messages).values(**row).returning(feedback_messages.c.id))
    return int(result.scalar_one())


def recent(conn: Connection, limit: int) -> list[dict[str, Any]]:
    cols = [c for c in feedback_messages.c if c.name != "raw"]
    rows = conn.execute(select(*cols).order_by(feedback_messages.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def raw(conn: Connection, feedback_id: int) -> bytes | None:
    value = conn.execute(
        select(feedback_messages.c.raw).where(feedback_messages.c.id == feedback_id)
    ).scalar()
    return bytes(value) if value is not None else None
