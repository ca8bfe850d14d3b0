"""The delivery queue: claim due deliveries with a lease, and record outcomes with their events.

On PostgreSQL claims use `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of hosts
share the queue; on SQLite the single writer thread of the process serialises claims. A lease that
expires (its worker died) makes the delivery claimable again: at-least-once delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, or_, select, update

from postroom.delivery.transports.base import Job, Outcome
from postroom.storage.tables import deliveries, events, messages

EVENT_OF_OUTCOME = {"delivered": "delivered", "deferred": "soft-bounced", "bounced": "hard-bounced"}
STATUS_OF_OUTCOME = {"delivered": "delivered", "deferred": "queued", "bounced": "bounced"}
# Placeholder until the retry schedule lands: a deferred delivery waits this long before it can be
# claimed again (no transport defers yet), instead of being due again at once.
DEFER_DELAY = timedelta(seconds=60)


def claim(conn: Connection, worker_id: str, limit: int, now: datetime, lease: timedelta) -> list[Job]:
    """Lease up to `limit` due deliveries to this worker and return them."""
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
    rows = conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.email_id,
            deliveries.c.account_id,
            deliveries.c.recipient,
            deliveries.c.attempts,
            messages.c.sender,
        )
        .join(messages, messages.c.email_id == deliveries.c.email_id)
        .where(deliveries.c.id.in_(ids))
        .order_by(deliveries.c.id)
    )
    return [Job(r.id, r.email_id, r.account_id, r.recipient, r.sender, r.attempts) for r in rows]


def record(conn: Connection, worker_id: str, results: list[tuple[Job, Outcome]], now: datetime) -> int:
    """Store each outcome and its event, release the leases; returns how many were recorded.

    Jobs with the same outcome are updated by one statement. A job whose lease this worker no
    longer holds (it expired and another worker took it) is skipped, so an outcome is never
    recorded twice.
    """
    by_outcome: dict[Outcome, list[Job]] = {}
    for job, outcome in results:
        by_outcome.setdefault(outcome, []).append(job)
    rows = []
    for outcome, jobs in by_outcome.items():
        held = set(
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_([j.delivery_id for j in jobs]), deliveries.c.locked_by == worker_id
                )
                .values(
                    status=STATUS_OF_OUTCOME[outcome.kind],
                    locked_by=None,
                    locked_until=None,
                    last_response=outcome.response,
                    updated_at=now,
                    **({"next_attempt_at": now + DEFER_DELAY} if outcome.kind == "deferred" else {}),
                )
                .returning(deliveries.c.id)
            ).scalars()
        )
        rows += [
            {
                "account_id": j.account_id,
                "email_id": j.email_id,
                "delivery_id": j.delivery_id,
                "recipient": j.recipient,
                "event": EVENT_OF_OUTCOME[outcome.kind],
                "created_at": now,
                "smtp_response": outcome.response,
                "host": outcome.host,
                "reason": "",
            }
            for j in jobs
            if j.delivery_id in held
        ]
    if rows:
        conn.execute(insert(events), rows)
    return len(rows)
