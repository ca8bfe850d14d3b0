"""The delivery queue: claim due deliveries with a lease, and record outcomes with their events.

On PostgreSQL claims use `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of hosts
share the queue; on SQLite the single writer thread of the process serialises claims. A lease that
expires (its worker died) makes the delivery claimable again: at-least-once delivery. Every attempt
appends one event (`delivered`, `soft-bounced` or `hard-bounced`, with host and response): the events
are the attempt history that `/activity/search` shows as `delivery_attempts`. A claimed delivery whose
recipient has been suppressed since its message was accepted is not sent: it ends `rejected`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from sqlalchemy import Connection, or_, select, update

from postroom.delivery.retry import DEFAULT_POLICY, RetryPolicy
from postroom.delivery.simulator import SIMULATOR_DOMAIN
from postroom.delivery.transports.base import Job, Outcome
from postroom.events import repo as event_log
from postroom.features.suppressions import service as suppressions
from postroom.features.suppressions.service import Suppression
from postroom.storage.tables import deliveries, messages

EVENT_OF_OUTCOME = {"delivered": "delivered", "deferred": "soft-bounced", "bounced": "hard-bounced"}
# A follow-up an outcome announces (a simulated complaint, open or click) → the event it appends.
EVENT_OF_FOLLOWUP = {"spam": "spam", "open": "opened", "click": "clicked"}
SUPPRESSED = "the recipient is on the suppression list"  # the reason of the send path's rejected events


def claim(
    conn: Connection, worker_id: str, limit: int, now: datetime, lease: timedelta, with_content: bool = False
) -> list[Job]:
    """Lease up to `limit` due deliveries to this worker and return them (with the message bytes in
    `Job.data` when `with_content`; jobs of one message share one bytes object)."""
    due = (
        select(deliveries.c.id)
        .where(
            deliveries.c.status == "queued",
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until < now),
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids))
        .values(locked_by=worker_id, locked_until=now + lease, attempts=deliveries.c.attempts + 1)
    )
    rows = list(
        conn.execute(
            select(
                deliveries.c.id,
                deliveries.c.email_id,
                deliveries.c.account_id,
                deliveries.c.recipient,
                deliveries.c.attempts,
                messages.c.sender,
                messages.c.from_header,
                messages.c.sandbox,
                messages.c.ip_pool,
            )
            .join(messages, messages.c.email_id == deliveries.c.email_id)
            .where(deliveries.c.id.in_(ids))
            .order_by(deliveries.c.id)
        )
    )
    refused = _suppressed_now(conn, rows)
    if refused:
        _refuse(conn, [r for r in rows if r.id in refused], now)
        rows = [r for r in rows if r.id not in refused]
    content = _contents(conn, {r.email_id for r in rows}) if with_content else {}
    return [
        Job(
            r.id,
            r.email_id,
            r.account_id,
            r.recipient,
            r.sender,
            r.attempts,
            data=content.get(r.email_id, b""),
            from_domain=parseaddr(r.from_header)[1].rpartition("@")[2].lower(),
            sandbox=bool(r.sandbox),
            ip_pool=r.ip_pool,
        )
        for r in rows
    ]


def _suppressed_now(conn: Connection, rows: list[Any]) -> set[int]:
    """The claimed deliveries whose recipient is on its account's suppression list now: added since
    the message was accepted (a scheduled message, a delivery waiting for a retry). One lookup per
    account among the claimed rows."""
    by_account: dict[str, list[Any]] = {}
    for r in rows:
        by_account.setdefault(r.account_id, []).append(r)
    refused: set[int] = set()
    for account_id, claimed in by_account.items():
        hits = suppressions.suppressed_among(conn, account_id, [r.recipient for r in claimed])
        refused.update(r.id for r in claimed if r.recipient.lower() in hits)
    return refused


def _refuse(conn: Connection, rows: list[Any], now: datetime) -> None:
    """End these deliveries unsent (status `rejected`, attempt not counted), each with a `rejected` event,
    as the send path does for a recipient suppressed when the message comes in."""
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_([r.id for r in rows]))
        .values(
            status="rejected",
            locked_by=None,
            locked_until=None,
            attempts=deliveries.c.attempts - 1,
            last_response=SUPPRESSED,
            updated_at=now,
        )
    )
    event_log.append(
        conn,
        [
            {
                "account_id": r.account_id,
                "email_id": r.email_id,
                "delivery_id": r.id,
                "recipient": r.recipient,
                "event": "rejected",
                "created_at": now,
                "smtp_response": "",
                "host": "",
                "reason": SUPPRESSED,
            }
            for r in rows
        ],
    )


def _contents(conn: Connection, email_ids: set[str]) -> dict[str, bytes]:
    rows = conn.execute(select(messages.c.email_id, messages.c.raw).where(messages.c.email_id.in_(email_ids)))
    return {r.email_id: bytes(r.raw) for r in rows}


def release(conn: Connection, worker_id: str, delivery_ids: list[int]) -> None:
    """Give back leases without an outcome (graceful shutdown): due again at once, attempt not counted."""
    if delivery_ids:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(delivery_ids), deliveries.c.locked_by == worker_id)
            .values(locked_by=None, locked_until=None, attempts=deliveries.c.attempts - 1)
        )


def record(
    conn: Connection,
    worker_id: str,
    results: list[tuple[Job, Outcome]],
    now: datetime,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> int:
    """Store each outcome and its events, release the leases; returns how many were recorded.

    A job whose lease this worker no longer holds (it expired and another worker took it) is
    skipped, so an outcome is never recorded twice. A deferral past the queue lifetime becomes a
    hard bounce; hard bounces and complaints add the recipient to the account's suppression list
    (never for simulator recipients).
    """
    queued_at = _held(conn, worker_id, [job.delivery_id for job, _ in results])
    changes: dict[tuple[str, datetime | None, str], list[int]] = {}
    event_rows: list[dict[str, Any]] = []
    suppress: list[Suppression] = []
    for job, outcome in results:
        if job.delivery_id not in queued_at:
            continue
        kind, reason, retry_at = _settle(job, outcome, queued_at[job.delivery_id], now, policy)
        changes.setdefault((kind, retry_at, outcome.response), []).append(job.delivery_id)
        event_rows.append(_event(job, EVENT_OF_OUTCOME[kind], now, outcome, reason))
        event_rows += [_event(job, EVENT_OF_FOLLOWUP[f], now, outcome, "") for f in outcome.followups]
        simulated = job.domain == SIMULATOR_DOMAIN
        if kind == "bounced" and not simulated:
            suppress.append(
                Suppression(job.account_id, job.recipient, "bounce", outcome.response, job.email_id)
            )
        if "spam" in outcome.followups and not simulated:
            suppress.append(Suppression(job.account_id, job.recipient, "spam", "complaint", job.email_id))
    for (kind, retry_at, response), ids in changes.items():
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(
                status="queued" if kind == "deferred" else kind,
                locked_by=None,
                locked_until=None,
                last_response=response,
                updated_at=now,
                **({"next_attempt_at": retry_at} if retry_at else {}),
            )
        )
    event_log.append(conn, event_rows)
    suppressions.record(conn, suppress, now)
    return sum(len(ids) for ids in changes.values())


def _held(conn: Connection, worker_id: str, ids: list[int]) -> dict[int, datetime]:
    """The deliveries among `ids` whose lease this worker holds (locked on PostgreSQL), with the
    time each was queued: its creation, or the time its scheduled message was due."""
    query = (
        select(deliveries.c.id, deliveries.c.created_at, messages.c.scheduled_at)
        .join(messages, messages.c.email_id == deliveries.c.email_id)
        .where(deliveries.c.id.in_(ids), deliveries.c.locked_by == worker_id)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=deliveries)
    return {r.id: max(r.created_at, r.scheduled_at or r.created_at) for r in conn.execute(query)}


def _settle(
    job: Job, outcome: Outcome, queued_at: datetime, now: datetime, policy: RetryPolicy
) -> tuple[str, str, datetime | None]:
    """(final kind, reason, next attempt time) of one outcome under the retry policy."""
    if outcome.kind != "deferred":
        return outcome.kind, "", None
    retry_at = policy.next_attempt(job.attempts, queued_at, now)
    if retry_at is None:
        lifetime = timedelta(seconds=policy.lifetime)
        return "bounced", f"gave up after {job.attempts} attempts: queued longer than {lifetime}", None
    return "deferred", "", retry_at


def _event(job: Job, name: str, now: datetime, outcome: Outcome, reason: str) -> dict[str, Any]:
    return {
        "account_id": job.account_id,
        "email_id": job.email_id,
        "delivery_id": job.delivery_id,
        "recipient": job.recipient,
        "event": name,
        "created_at": now,
        "smtp_response": outcome.response,
        "host": outcome.host,
        "reason": reason,
    }
