"""Retention: history older than the setting is deleted in batches, and nothing newer, nothing pending."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from postroom.clock import utcnow
from postroom.features.api_keys import repo as keys_repo
from postroom.features.api_keys import sessions as session
from postroom.features.email import repo as email_repo
from postroom.scheduler import retention
from postroom.scheduler.tasks import default_tasks
from postroom.settings import Settings
from postroom.storage.tables import deliveries, events, feedback_messages, messages, server_state
from postroom.testing import FakeClock

DAY = 86400.0
KEEP = int(30 * DAY)


def _message(db: Any, email_id: str, age_days: float, delivered: bool = True) -> None:
    account_id = db.read_sync(keys_repo.master_account_id)
    stored = email_repo.StoredMessage(
        email_id=email_id,
        account_id=account_id,
        username="api-0123456789AB",
        source="api",
        client_ip="127.0.0.1",
        sender="a@example.com",
        from_header="a@example.com",
        to=["t@example.com"],
        cc=[],
        bcc=[],
        reply_to="",
        subject=email_id,
        raw=b"Subject: x\r\n\r\nbody\r\n",
        attachments=[],
        recipients=["t@example.com"],
    )
    at = utcnow() - timedelta(days=age_days)
    db.write_sync(lambda c: email_repo.insert_messages(c, [(stored, at)]))  # with its `processed` event
    if delivered:
        db.write_sync(
            lambda c: c.execute(
                update(deliveries).where(deliveries.c.email_id == email_id).values(status="delivered")
            )
        )


def _event(db: Any, email_id: str, name: str, age_days: float) -> None:
    account_id = db.read_sync(keys_repo.master_account_id)
    row = {
        "account_id": account_id,
        "email_id": email_id,
        "recipient": "t@example.com",
        "event": name,
        "created_at": utcnow() - timedelta(days=age_days),
        "smtp_response": "",
        "host": "",
        "reason": "",
    }
    db.write_sync(lambda c: c.execute(insert(events).values(**row)))


def _feedback(db: Any, age_days: float) -> None:
    row = {
        "received_at": utcnow() - timedelta(days=age_days),
        "kind": "dsn",
        "rcpt_to": "b@x",
        "summary": "",
        "raw": b"x",
    }
    db.write_sync(lambda c: c.execute(insert(feedback_messages).values(**row)))


def _ids(db: Any) -> set[str]:
    return {r.email_id for r in db.read_sync(lambda c: c.execute(select(messages.c.email_id)).all())}


def _event_names(db: Any) -> set[tuple[str, str]]:
    return {
        (r.email_id, r.event)
        for r in db.read_sync(lambda c: c.execute(select(events.c.email_id, events.c.event)).all())
    }


async def test_older_history_goes_and_nothing_newer_or_pending(db: Any) -> None:
    _message(db, "old-done", 40)
    for n in range(5):
        _event(db, "old-done", f"opened{n}", 35)  # several batches of old events
    _message(db, "old-late-event", 40)
    _event(db, "old-late-event", "opened", 10)  # its newest event is recent: the message stays
    _message(db, "old-queued", 40, delivered=False)  # still waiting for delivery: it stays
    _message(db, "new", 1)
    _event(db, "new", "clicked", 0.5)
    _feedback(db, 40)
    _feedback(db, 1)
    clock = FakeClock(utcnow())
    counts = await retention.apply_retention(db, KEEP, clock, batch=2)
    assert _ids(db) == {"old-late-event", "old-queued", "new"}
    assert _event_names(db) == {("old-late-event", "opened"), ("new", "processed"), ("new", "clicked")}
    assert counts["messages"] == 1 and counts["events"] == 8 and counts["feedback"] == 1
    assert (
        db.read_sync(lambda c: c.execute(select(deliveries.c.email_id)).scalars().all()).count("old-done")
        == 0
    )
    assert len(db.read_sync(lambda c: c.execute(select(feedback_messages.c.id)).all())) == 1
    again = await retention.apply_retention(db, KEEP, clock)
    assert again == {"sign-outs": 0, "events": 0, "messages": 0, "feedback": 0}


async def test_retention_zero_keeps_everything(db: Any) -> None:
    _message(db, "ancient", 4000)
    _feedback(db, 4000)
    counts = await retention.apply_retention(db, 0, FakeClock(utcnow()))
    assert _ids(db) == {"ancient"} and counts == {"sign-outs": 0}


async def test_expired_sign_out_records_are_deleted(db: Any) -> None:
    clock = FakeClock(utcnow())
    now = int(clock.timestamp())
    rows = [
        {"name": f"{session.REVOKED_STATE}gone", "value": str(now - 1)},
        {"name": f"{session.REVOKED_STATE}live", "value": str(now + 3600)},
        {"name": "web_session_secret", "value": "0"},
    ]
    db.write_sync(lambda c: c.execute(insert(server_state), rows))
    counts = await retention.apply_retention(db, KEEP, clock)
    names = {r.name for r in db.read_sync(lambda c: c.execute(select(server_state.c.name)).all())}
    assert f"{session.REVOKED_STATE}live" in names and "web_session_secret" in names
    assert f"{session.REVOKED_STATE}gone" not in names and counts["sign-outs"] == 1


def test_the_default_tasks_follow_the_settings() -> None:
    tasks = {t.name: t for t in default_tasks(None, Settings())}  # type: ignore[arg-type]
    assert set(tasks) == {"domain_reverify", "retention"}
    assert tasks["domain_reverify"].interval == timedelta(minutes=7)
    assert Settings().retention_seconds == KEEP and Settings(retention="0").retention_seconds == 0
