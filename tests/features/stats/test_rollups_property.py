"""Property: after any sequence of stored messages and events, the rollups equal a recount from events."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from postroom.clock import utcnow
from postroom.events import repo as event_log
from postroom.features.api_keys import repo as keys_repo
from postroom.features.email import repo as email_repo
from postroom.ids import new_email_id
from postroom.storage.tables import deliveries, events, messages, stats_daily, webhook_notifications

TOKENS = ["delivered", "soft-bounced", "hard-bounced", "spam", "opened", "clicked", "unsubscribed"]
message_specs = st.lists(
    st.tuples(
        st.sampled_from(["api-0123456789AB", "mailer1", "192.0.2.9"]),  # sender identity
        st.sampled_from(["a@example.com", "B@Example.com", "c@other.example"]),  # envelope sender
        st.integers(0, 3),  # days ago
        st.integers(1, 3),  # recipients
        st.lists(st.sampled_from(TOKENS), max_size=4),  # later events of the first recipient
    ),
    min_size=1,
    max_size=8,
)


def _stored(account_id: str, username: str, sender: str, recipients: int) -> email_repo.StoredMessage:
    rcpts = [f"r{i}@example.net" for i in range(recipients)]
    return email_repo.StoredMessage(
        email_id=new_email_id(),
        account_id=account_id,
        username=username,
        source="api",
        client_ip="127.0.0.1",
        sender=sender,
        from_header=sender,
        to=rcpts,
        cc=[],
        bcc=[],
        reply_to="",
        subject="s",
        raw=b"Subject: s\r\n\r\n" + b"x" * 100,
        attachments=[],
        recipients=rcpts,
    )


def _recount(conn: Any) -> Counter[tuple[str, ...]]:
    facts = {r.email_id: r for r in conn.execute(select(messages))}
    counts: Counter[tuple[str, ...]] = Counter()
    for e in conn.execute(select(events)):
        m = facts[e.email_id]
        key = (e.account_id, e.created_at.strftime("%Y-%m-%d"), m.username, m.sender.lower(), e.event)
        counts[(*key, "count")] += 1
        counts[(*key, "bytes")] += m.size if e.event == "processed" else 0
    return +counts


def _rollups(conn: Any) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for r in conn.execute(select(stats_daily)):
        key = (r.account_id, r.day, r.username, r.sender, r.event)
        counts[(*key, "count")] += r.count
        counts[(*key, "bytes")] += r.bytes
    return +counts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=message_specs)
def test_rollups_equal_a_recount_from_events(db: Any, specs: list[Any]) -> None:
    account = db.read_sync(keys_repo.master_account_id)

    def run(conn: Any) -> None:
        for table in (webhook_notifications, events, deliveries, messages, stats_daily):
            conn.execute(delete(table))
        for username, sender, days_ago, recipients, later in specs:
            at = utcnow() - timedelta(days=days_ago)
            message = _stored(account, username, sender, recipients)
            email_repo.insert_messages(conn, [(message, at)])
            delivery = conn.execute(
                select(deliveries).where(deliveries.c.email_id == message.email_id)
            ).first()
            event_log.append(
                conn,
                [
                    {
                        "account_id": account,
                        "email_id": message.email_id,
                        "delivery_id": delivery.id,
                        "recipient": delivery.recipient,
                        "event": token,
                        "created_at": at + timedelta(minutes=n),
                        "smtp_response": "",
                        "host": "",
                        "reason": "",
                    }
                    for n, token in enumerate(later)
                ],
            )

    db.write_sync(run)
    assert db.read_sync(_rollups) == db.read_sync(_recount)
