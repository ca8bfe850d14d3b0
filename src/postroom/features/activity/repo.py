"""SQL of activity: events joined with their messages, filtered and paged newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from sqlalchemy.sql import Select

from postroom.features.activity.match import contains
from postroom.storage.tables import accounts, deliveries, events, messages

ATTEMPT_EVENTS = ("delivered", "soft-bounced", "hard-bounced")
HEADER_PREFIX_BYTES = 65536


@dataclass
class EventFilter:
    """Everything /activity/search can narrow by; empty members do not filter."""

    account_id: str
    start: datetime
    end: datetime
    any_text: list[str] = field(default_factory=list)
    email_ids: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    event_types: list[str] = field(default_factory=list)
    only_latest: bool = False


def _any_like(columns: Sequence[Any], needles: list[str]) -> ColumnElement[bool]:
    return or_(*(contains(col, n) for n in needles for col in columns))


def _conditions(f: EventFilter, upper: int) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions, within the snapshot `id <= upper` (only_latest included: an
    event added after the first page must not hide the one it supersedes from later pages)."""
    conds: list[ColumnElement[bool]] = [
        events.c.id <= upper,
        events.c.account_id == f.account_id,
        events.c.created_at >= f.start,
        events.c.created_at < f.end,
    ]
    if f.email_ids:
        conds.append(events.c.email_id.in_(f.email_ids))
    if f.subjects:
        conds.append(_any_like([messages.c.subject], f.subjects))
    if f.senders:
        conds.append(_any_like([messages.c.sender, messages.c.from_header], f.senders))
    if f.recipients:
        conds.append(_any_like([events.c.recipient], f.recipients))
    if f.any_text:
        conds.append(
            _any_like(
                [
                    events.c.email_id,
                    messages.c.subject,
                    messages.c.sender,
                    messages.c.from_header,
                    events.c.recipient,
                ],
                f.any_text,
            )
        )
    if f.usernames:
        conds.append(messages.c.username.in_(f.usernames))
    if f.event_types:
        conds.append(events.c.event.in_(f.event_types))
    if f.only_latest:
        latest = events.alias("latest")
        conds.append(
            events.c.id
            == select(func.max(latest.c.id))
            .where(
                latest.c.email_id == events.c.email_id,
                latest.c.recipient == events.c.recipient,
                latest.c.id <= upper,
            )
            .scalar_subquery()
        )
    return conds


def _joined(columns: list[Any]) -> Select[Any]:
    return (
        select(*columns)
        .select_from(events)
        .join(messages, messages.c.email_id == events.c.email_id)
        .join(accounts, accounts.c.id == events.c.account_id)
    )


def max_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one())


def search_events(
    conn: Connection, f: EventFilter, upper: int, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """(up to limit+1 rows newest first, total matching) within the snapshot `id <= upper`."""
    conds = _conditions(f, upper)
    total = conn.execute(_joined([func.count()]).where(and_(*conds))).scalar_one()
    if after is not None:
        conds.append(events.c.id < after)
    query = (
        _joined(
            [
                events.c.id,
                events.c.event,
                events.c.created_at,
                events.c.recipient,
                events.c.smtp_response,
                events.c.host,
                events.c.reason,
                events.c.email_id,
                events.c.delivery_id,
                messages.c.sender,
                messages.c.from_header,
                messages.c.to_addrs,
                messages.c.cc_addrs,
                messages.c.bcc_addrs,
                messages.c.reply_to,
                messages.c.subject,
                messages.c.username,
                messages.c.size,
                messages.c.client_ip,
                accounts.c.name.label("account_name"),
            ]
        )
        .where(and_(*conds))
        .order_by(events.c.id.desc())
        .limit(limit + 1)
    )
    return [dict(r._mapping) for r in conn.execute(query)], int(total)


def attempts_for(conn: Connection, delivery_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The delivery attempts (delivered and bounce events) of each delivery, oldest first."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not delivery_ids:
        return out
    rows = conn.execute(
        select(events.c.delivery_id, events.c.created_at, events.c.host, events.c.smtp_response)
        .where(events.c.delivery_id.in_(delivery_ids), events.c.event.in_(ATTEMPT_EVENTS))
        .order_by(events.c.id)
    )
    for r in rows:
        out.setdefault(r.delivery_id, []).append(dict(r._mapping))
    return out


def header_sections(conn: Connection, email_ids: list[str]) -> dict[str, bytes]:
    """The first bytes of each message (enough for its header section)."""
    if not email_ids:
        return {}
    rows = conn.execute(
        select(messages.c.email_id, func.substr(messages.c.raw, 1, HEADER_PREFIX_BYTES).label("head")).where(
            messages.c.email_id.in_(email_ids)
        )
    )
    return {r.email_id: bytes(r.head) for r in rows}


def search_deliveries(
    conn: Connection,
    account_id: str,
    start: datetime,
    end: datetime,
    email_ids: list[str],
    terms: list[tuple[str, str]],
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Deliveries joined with messages for /email/search, newest first, keyset-paged by id."""
    columns = {
        "sender": messages.c.sender,
        "recipient": deliveries.c.recipient,
        "subject": messages.c.subject,
        "email_id": deliveries.c.email_id,
        "status": deliveries.c.status,
    }
    conds: list[ColumnElement[bool]] = [
        deliveries.c.account_id == account_id,
        deliveries.c.created_at >= start,
        deliveries.c.created_at < end,
    ]
    if email_ids:
        conds.append(deliveries.c.email_id.in_(email_ids))
    for name, value in terms:
        targets = [columns[name]] if name in columns else list(columns.values())
        conds.append(_any_like(targets, [value]))
    if after is not None:
        conds.append(deliveries.c.id < after)
    query = (
        select(
            deliveries.c.id,
            deliveries.c.email_id,
            deliveries.c.recipient,
            deliveries.c.status,
            deliveries.c.last_response,
            deliveries.c.created_at,
            deliveries.c.updated_at,
            messages.c.sender,
            messages.c.subject,
        )
        .join(messages, messages.c.email_id == deliveries.c.email_id)
        .where(and_(*conds))
        .order_by(deliveries.c.id.desc())
        .limit(limit + 1)
    )
    return [dict(r._mapping) for r in conn.execute(query)]
