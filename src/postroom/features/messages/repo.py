"""SQL of the capture store: list, read and empty the stored messages of one account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Text, and_, cast, delete, or_, select

from postroom.features.activity.match import contains
from postroom.storage.tables import deliveries, events, messages

SUMMARY = [
    messages.c.email_id,
    messages.c.created_at,
    messages.c.sender,
    messages.c.from_header,
    messages.c.to_addrs,
    messages.c.cc_addrs,
    messages.c.bcc_addrs,
    messages.c.subject,
    messages.c.size,
    messages.c.attachments,
    messages.c.reply_to,
    messages.c.username,
    messages.c.source,
]


def list_messages(
    conn: Connection,
    account_id: str,
    *,
    to: str,
    sender: str,
    subject: str,
    since: datetime | None,
    cursor: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Newest first, keyset-paged on (created_at, email_id); returns up to limit+1 rows."""
    conds: list[ColumnElement[bool]] = [messages.c.account_id == account_id]
    if to:
        conds.append(
            or_(
                *(
                    contains(cast(col, Text), to)
                    for col in (messages.c.to_addrs, messages.c.cc_addrs, messages.c.bcc_addrs)
                )
            )
        )
    if sender:
        conds.append(or_(contains(messages.c.sender, sender), contains(messages.c.from_header, sender)))
    if subject:
        conds.append(contains(messages.c.subject, subject))
    if since is not None:
        conds.append(messages.c.created_at >= since)
    if cursor is not None:
        at, email_id = cursor
        conds.append(
            or_(messages.c.created_at < at, and_(messages.c.created_at == at, messages.c.email_id < email_id))
        )
    query = (
        select(*SUMMARY)
        .where(and_(*conds))
        .order_by(messages.c.created_at.desc(), messages.c.email_id.desc())
        .limit(limit + 1)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def get_message(conn: Connection, account_id: str, email_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(*SUMMARY, messages.c.client_ip, messages.c.raw, messages.c.warnings).where(
            messages.c.account_id == account_id, messages.c.email_id == email_id
        )
    ).first()
    return dict(row._mapping) if row else None


def get_raw(conn: Connection, account_id: str, email_id: str) -> tuple[bytes, str] | None:
    """The message's raw source and its `source` (api, smtp, system…); None when it is not the account's."""
    row = conn.execute(
        select(messages.c.raw, messages.c.source).where(
            messages.c.account_id == account_id, messages.c.email_id == email_id
        )
    ).first()
    return (bytes(row.raw), str(row.source)) if row is not None else None


def events_of(conn: Connection, email_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(events.c.event, events.c.recipient, events.c.created_at, events.c.smtp_response, events.c.host)
        .where(events.c.email_id == email_id)
        .order_by(events.c.id)
    )
    return [dict(r._mapping) for r in rows]


def delete_all(conn: Connection, account_id: str) -> int:
    """Remove the account's messages with their deliveries and events; returns how many messages."""
    conn.execute(delete(events).where(events.c.account_id == account_id))
    conn.execute(delete(deliveries).where(deliveries.c.account_id == account_id))
    return int(conn.execute(delete(messages).where(messages.c.account_id == account_id)).rowcount)
