"""The webhook outbox's SQL: notifications queued with their events, claimed with leases, settled.

A notification is one event (or, for `processed`, one message) for one webhook. Order: of the
notifications of one webhook and one message, one for a recipient waits while an earlier one for
the same recipient, or for the whole message (`processed`), is still pending; so each recipient's
events reach the webhook in the order they happened, and different recipients go in parallel.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from postroom.clock import utcnow
from postroom.dispatch.events import WEBHOOK_EVENT
from postroom.dispatch.schedule import RetrySchedule
from postroom.storage.tables import events, messages, webhook_attempts, webhook_notifications, webhooks

HEADER_BYTES = 65536  # how much of a stored message is read for the headers payloads copy
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


def _subscribers(conn: Connection, accounts: set[str]) -> list[Any]:
    query = select(webhooks.c.id, webhooks.c.account_id, webhooks.c.events, webhooks.c.usernames).where(
        webhooks.c.account_id.in_(accounts), webhooks.c.disabled.is_(False)
    )
    return list(conn.execute(query))


def _usernames(conn: Connection, email_ids: set[str]) -> dict[str, str]:
    rows = conn.execute(
        select(messages.c.email_id, messages.c.username).where(messages.c.email_id.in_(email_ids))
    )
    return {r.email_id: r.username for r in rows}


def fan_out(conn: Connection, stored: Sequence[dict[str, Any]]) -> int:
    """Queue a notification of each stored event (with its `id`) for every enabled webhook of its
    account that subscribes to it and whose `usernames` (if any) name the message's sender; how many."""
    hooks = _subscribers(conn, {row["account_id"] for row in stored})
    if not hooks:
        return 0
    senders = _usernames(conn, {r["email_id"] for r in stored}) if any(h.usernames for h in hooks) else {}
    now = utcnow()
    rows: list[dict[str, Any]] = []
    seen_processed: set[tuple[int, str]] = set()
    for event in stored:
        name = WEBHOOK_EVENT.get(event["event"])
        for hook in hooks:
            if name is None or hook.account_id != event["account_id"] or name not in hook.events:
                continue
            if hook.usernames and senders.get(event["email_id"]) not in hook.usernames:
                continue
            recipient = event["recipient"]
            if name == "processed":  # once per message, for all its recipients
                if (hook.id, event["email_id"]) in seen_processed:
                    continue
                seen_processed.add((hook.id, event["email_id"]))
                recipient = ""
            rows.append(_row(hook.id, event, name, recipient, now))
    if rows:
        conn.execute(insert(webhook_notifications), rows)
    return len(rows)


def _row(webhook_id: int, event: dict[str, Any], name: str, recipient: str, now: datetime) -> dict[str, Any]:
    return {
        "id": secrets.token_hex(16),
        "webhook_id": webhook_id,
        "account_id": event["account_id"],
        "event_id": event["id"],
        "email_id": event["email_id"],
        "recipient": recipient,
        "event": name,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": event["created_at"],
        "last_error": "",
        "created_at": now,
        "updated_at": now,
    }


@dataclass(frozen=True)
class Notification:
    """A claimed notification with what its payload is built from."""

    seq: int
    id: str
    event: str  # webhook name
    attempts: int
    event_row: dict[str, Any]
    message: dict[str, Any]  # the message's columns; `head`: the start of its raw bytes
    recipients: list[str]  # for `processed`: every recipient of the message
    webhook: dict[str, Any]


def claim(conn: Connection, worker: str, limit: int, now: datetime, lease: timedelta) -> list[Notification]:
    """Lease up to `limit` due notifications that no earlier pending one of their lane holds back."""
    earlier = aliased(webhook_notifications)
    n = webhook_notifications
    blocked = exists().where(
        earlier.c.webhook_id == n.c.webhook_id,
        earlier.c.email_id == n.c.email_id,
        earlier.c.state == PENDING,
        earlier.c.seq < n.c.seq,
        or_(earlier.c.recipient == n.c.recipient, earlier.c.recipient == ""),
    )
    due = (
        select(n.c.seq)
        .where(
            n.c.state == PENDING,
            n.c.next_attempt_at <= now,
            or_(n.c.locked_until.is_(None), n.c.locked_until < now),
            ~blocked,
        )
        .order_by(n.c.seq)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=n)
    seqs = [r.seq for r in conn.execute(due)]
    if not seqs:
        return []
    conn.execute(update(n).where(n.c.seq.in_(seqs)).values(locked_by=worker, locked_until=now + lease))
    return _load(conn, seqs)


def _load(conn: Connection, seqs: list[int]) -> list[Notification]:
    n = webhook_notifications
    rows = list(conn.execute(select(n).where(n.c.seq.in_(seqs)).order_by(n.c.seq)))
    event_rows = {
        r.id: dict(r._mapping)
        for r in conn.execute(select(events).where(events.c.id.in_({r.event_id for r in rows})))
    }
    columns = [c for c in messages.c if c.name != "raw"]
    message_rows = {
        r.email_id: dict(r._mapping)
        for r in conn.execute(
            select(*columns, func.substr(messages.c.raw, 1, HEADER_BYTES).label("head")).where(
                messages.c.email_id.in_({r.email_id for r in rows})
            )
        )
    }
    hooks = {
        r.id: dict(r._mapping)
        for r in conn.execute(select(webhooks).where(webhooks.c.id.in_({r.webhook_id for r in rows})))
    }
    processed = {r.email_id for r in rows if r.event == "processed"}
    recipients: dict[str, list[str]] = {}
    if processed:
        query = (
            select(events.c.email_id, events.c.recipient)
            .where(events.c.email_id.in_(processed), events.c.event == "processed")
            .order_by(events.c.id)
        )
        for r in conn.execute(query):
            recipients.setdefault(r.email_id, []).append(r.recipient)
    found = []
    for r in rows:
        message, event_row, hook = (
            message_rows.get(r.email_id),
            event_rows.get(r.event_id),
            hooks.get(r.webhook_id),
        )
        if message is None or event_row is None or hook is None:  # gone (retention, removal): nothing to post
            conn.execute(
                update(n).where(n.c.seq == r.seq).values(state=CANCELLED, locked_by=None, locked_until=None)
            )
            continue
        found.append(
            Notification(
                r.seq, r.id, r.event, r.attempts, event_row, message, recipients.get(r.email_id, []), hook
            )
        )
    return found


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: a status code (None: no answer), how long it took, and the answer's start."""

    status: int | None
    duration_ms: int
    response_start: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def record(
    conn: Connection,
    worker: str,
    results: Sequence[tuple[Notification, Attempt]],
    now: datetime,
    schedule: RetrySchedule,
) -> int:
    """Store each attempt and settle its notification (delivered, retried later, or failed after the
    last attempt); a notification whose lease this worker lost is left alone. How many were settled."""
    n = webhook_notifications
    settled = 0
    for notification, attempt in results:
        attempts = notification.attempts + 1
        if attempt.succeeded:
            values: dict[str, Any] = {"state": DELIVERED}
        else:
            retry_at = schedule.next_attempt(notification.event_row["created_at"], attempts)
            values = {"state": FAILED} if retry_at is None else {"next_attempt_at": max(retry_at, now)}
        result = conn.execute(
            update(n)
            .where(n.c.seq == notification.seq, n.c.locked_by == worker, n.c.state == PENDING)
            .values(
                attempts=attempts,
                locked_by=None,
                locked_until=None,
                last_status=attempt.status,
                last_error=attempt.error[:1000],
                updated_at=now,
                **values,
            )
        )
        if result.rowcount:
            settled += 1
            conn.execute(
                insert(webhook_attempts).values(
                    notification_seq=notification.seq,
                    attempted_at=now,
                    status_code=attempt.status,
                    duration_ms=attempt.duration_ms,
                    response_start=attempt.response_start[:1024],
                    error=attempt.error[:1000],
                )
            )
    return settled


def cancel_pending(conn: Connection, webhook_id: int, now: datetime) -> int:
    """Stop a removed or disabled webhook's pending notifications (they stay, as cancelled)."""
    n = webhook_notifications
    result = conn.execute(
        update(n)
        .where(n.c.webhook_id == webhook_id, n.c.state == PENDING)
        .values(state=CANCELLED, locked_by=None, locked_until=None, updated_at=now)
    )
    return int(result.rowcount)


def anything_due(conn: Connection, now: datetime) -> bool:
    """Whether a pending notification is due (a cheap read before a claim, which is a write)."""
    n = webhook_notifications
    return bool(
        conn.execute(select(exists().where(n.c.state == PENDING, n.c.next_attempt_at <= now))).scalar()
    )


def next_due(conn: Connection) -> datetime | None:
    """When the earliest pending notification is due (None: nothing pending)."""
    n = webhook_notifications
    return conn.execute(select(func.min(n.c.next_attempt_at)).where(n.c.state == PENDING)).scalar()


def notifications(
    conn: Connection, webhook_id: int, limit: int, before: int | None = None, **filters: str
) -> list[dict[str, Any]]:
    """A webhook's notifications, newest first (those older than seq `before`), each with its attempts."""
    n = webhook_notifications
    query = select(n).where(n.c.webhook_id == webhook_id)
    if before is not None:
        query = query.where(n.c.seq < before)
    for name in ("state", "event", "email_id"):
        if filters.get(name):
            query = query.where(getattr(n.c, name) == filters[name])
    rows = [dict(r._mapping) for r in conn.execute(query.order_by(n.c.seq.desc()).limit(limit))]
    attempts: dict[int, list[dict[str, Any]]] = {}
    if rows:
        a = webhook_attempts
        query2 = select(a).where(a.c.notification_seq.in_([r["seq"] for r in rows])).order_by(a.c.id)
        for attempt in conn.execute(query2):
            attempts.setdefault(attempt.notification_seq, []).append(dict(attempt._mapping))
    for r in rows:
        r["attempt_log"] = attempts.get(r["seq"], [])
    return rows


def reschedule(conn: Connection, webhook_id: int, notification_id: str, now: datetime) -> bool:
    """Try a pending, failed or cancelled notification again now; False if the webhook has no such one."""
    n = webhook_notifications
    result = conn.execute(
        update(n)
        .where(n.c.webhook_id == webhook_id, n.c.id == notification_id, n.c.state != DELIVERED)
        .values(state=PENDING, next_attempt_at=now, locked_by=None, locked_until=None, updated_at=now)
    )
    return bool(result.rowcount)


def cancel(conn: Connection, webhook_id: int, notification_id: str, now: datetime) -> bool:
    """Stop a pending notification; False if the webhook has no pending one of that id."""
    n = webhook_notifications
    result = conn.execute(
        update(n)
        .where(n.c.webhook_id == webhook_id, n.c.id == notification_id, n.c.state == PENDING)
        .values(state=CANCELLED, locked_by=None, locked_until=None, updated_at=now)
    )
    return bool(result.rowcount)
