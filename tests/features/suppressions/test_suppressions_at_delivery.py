"""An entry added after a message was accepted still stops it: the delivery queue checks the list when it
claims a delivery (a scheduled message, a retry), and ends that delivery `rejected` instead of sending."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from conftest import RunningServer
from envelope_checks import ok
from postroom.clock import utcnow
from postroom.delivery import queue
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.features.suppressions import repo as suppressions_repo
from postroom.storage.tables import deliveries, events

LEASE = timedelta(minutes=5)


def _accept(db: Any, to: list[str]) -> str:
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)
    req = SendRequest(sender="s@example.com", to=to, subject="s", text_body="t")

    async def go() -> str:
        return await service.accept(service.prepare_send(principal, req, "127.0.0.1"))

    return asyncio.run(go())


def test_a_claimed_delivery_suppressed_since_acceptance_is_rejected_not_sent(db: Any) -> None:
    email_id = _accept(db, ["a@late.example", "b@fine.example"])
    account = db.write_sync(ensure_master_account)
    row = suppressions_repo.row(account, "late.example", "manual", "", None, utcnow())
    db.write_sync(lambda c: suppressions_repo.add_many(c, [row]))
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, utcnow(), LEASE))
    assert [j.recipient for j in jobs] == ["b@fine.example"]
    states = db.read_sync(
        lambda c: dict(c.execute(select(deliveries.c.recipient, deliveries.c.status)).all())
    )
    assert states == {"a@late.example": "rejected", "b@fine.example": "queued"}
    rejected = db.read_sync(lambda c: list(c.execute(select(events).where(events.c.event == "rejected"))))
    assert [(e.email_id, e.recipient, e.reason) for e in rejected] == [
        (email_id, "a@late.example", "the recipient is on the suppression list")
    ]
    later = db.write_sync(lambda c: queue.claim(c, "B", 10, utcnow() + LEASE * 2, LEASE))
    assert [j.recipient for j in later] == ["b@fine.example"]  # the rejected one is never claimed again


def test_a_scheduled_message_skips_a_recipient_suppressed_before_its_time(server: RunningServer) -> None:
    at = utcnow() + timedelta(seconds=3)
    body = {
        "sender": "s@example.com",
        "to": ["a@late.example", "b@fine.example"],
        "subject": "s",
        "text_body": "x",
    }
    data = ok(server.post("email/send", {**body, "schedule": f"{at:%Y-%m-%d %H:%M:%S}"}))
    assert data["succeeded"] == 1
    ok(server.post("suppression/add", {"email_address": "late.example"}))
    deadline = time.monotonic() + 20
    found: set[tuple[str, str]] = set()
    while time.monotonic() < deadline and len(found) < 4:
        found = {(e["recipient"], e["event"]) for e in ok(server.post("activity/search", {}))["events"]}
        time.sleep(0.2)
    assert found == {
        ("a@late.example", "processed"),
        ("a@late.example", "rejected"),
        ("b@fine.example", "processed"),
        ("b@fine.example", "delivered"),
    }
