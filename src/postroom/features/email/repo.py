"""SQL of the send path: one message, its deliveries and their `processed` events, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from postroom.storage.tables import deliveries, events, messages


@dataclass(frozen=True)
class StoredMessage:
    """A composed message ready to be stored, with its envelope."""

    email_id: str
    account_id: str
    username: str
    source: str
    client_ip: str
    sender: str
    from_header: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: str
    subject: str
    raw: bytes
    attachments: list[dict[str, Any]]
    recipients: list[str]


def insert_messages(conn: Connection, items: list[tuple[StoredMessage, datetime]]) -> list[str]:
    """Insert messages, one queued delivery per recipient and a `processed` event for each.

    Written for the group-commit writer: every message accepted at the same moment goes into one
    multi-row INSERT per table. Returns the email ids in order.
    """
    conn.execute(
        insert(messages),
        [
            {
                "email_id": m.email_id,
                "account_id": m.account_id,
                "username": m.username,
                "created_at": now,
                "source": m.source,
                "client_ip": m.client_ip,
                "sender": m.sender,
                "from_header": m.from_header,
                "to_addrs": m.to,
                "cc_addrs": m.cc,
                "bcc_addrs": m.bcc,
                "reply_to": m.reply_to,
                "subject": m.subject,
                "size": len(m.raw),
                "attachments": m.attachments,
                "raw": m.raw,
            }
            for m, now in items
        ],
    )
    targets = [(m, r, now) for m, now in items for r in m.recipients]
    ids = (
        conn.execute(
            insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True),
            [
                {
                    "email_id": m.email_id,
                    "account_id": m.account_id,
                    "recipient": r,
                    "status": "queued",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "last_response": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for m, r, now in targets
            ],
        )
        .scalars()
        .all()
    )
    conn.execute(
        insert(events),
        [
            {
                "account_id": m.account_id,
                "email_id": m.email_id,
                "delivery_id": delivery_id,
                "recipient": r,
                "event": "processed",
                "created_at": now,
                "smtp_response": "",
                "host": "",
                "reason": "",
            }
            for delivery_id, (m, r, now) in zip(ids, targets, strict=True)
        ],
    )
    return [m.email_id for m, _ in items]
