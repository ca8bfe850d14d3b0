"""The delivery queue's promises: leases, at-least-once after a crash, no double recording."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from postroom.clock import utcnow
from postroom.delivery import queue
from postroom.delivery.transports.base import Outcome
from postroom.delivery.transports.capture import CaptureTransport
from postroom.delivery.worker import DeliveryWorker
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.storage.tables import deliveries, events

LEASE = timedelta(minutes=5)
OK = Outcome("delivered", "250 ok", "peer")


def _accept(db: Any, n: int) -> list[str]:
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)
    req = SendRequest(
        sender="s@example.com", to=[f"r{i}@example.com" for i in range(n)], subject="s", text_body="t"
    )

    async def go() -> str:
        return await service.accept(service.prepare_send(principal, req, "127.0.0.1"))

    return [asyncio.run(go())]


def _events(db: Any, kind: str) -> list[Any]:
    return db.read_sync(lambda c: list(c.execute(select(events).where(events.c.event == kind))))


def test_claim_leases_and_a_second_worker_gets_nothing(db: Any) -> None:
    _accept(db, 3)
    now = utcnow()
    jobs_a = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    jobs_b = db.write_sync(lambda c: queue.claim(c, "B", 10, now, LEASE))
    assert len(jobs_a) == 3 and jobs_b == []
    assert {j.attempts for j in jobs_a} == {1}


def test_expired_lease_is_taken_again_and_the_dead_worker_cannot_record(db: Any) -> None:
    _accept(db, 2)
    now = utcnow()
    jobs_a = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    later = now + LEASE + timedelta(seconds=1)
    jobs_b = db.write_sync(lambda c: queue.claim(c, "B", 10, later, LEASE))
    assert [j.delivery_id for j in jobs_b] == [j.delivery_id for j in jobs_a]
    assert {j.attempts for j in jobs_b} == {2}
    late = db.write_sync(lambda c: queue.record(c, "A", [(j, OK) for j in jobs_a], later))
    assert late == 0 and _events(db, "delivered") == []
    done = db.write_sync(lambda c: queue.record(c, "B", [(j, OK) for j in jobs_b], later))
    assert done == 2 and len(_events(db, "delivered")) == 2
    statuses = db.read_sync(lambda c: set(c.execute(select(deliveries.c.status)).scalars()))
    assert statuses == {"delivered"}
    assert db.write_sync(lambda c: queue.claim(c, "C", 10, later + LEASE * 2, LEASE)) == []


def test_worker_round_delivers_everything_through_the_transport(db: Any) -> None:
    _accept(db, 5)

    async def go() -> int:
        return await DeliveryWorker(db, CaptureTransport(), batch=2).run_once()

    assert asyncio.run(go()) == 2
    assert asyncio.run(go()) == 2
    assert asyncio.run(go()) == 1
    assert asyncio.run(go()) == 0
    assert [e.smtp_response for e in _events(db, "delivered")] == ["250 captured"] * 5


def test_a_deferred_delivery_is_not_due_again_at_once(db: Any) -> None:
    _accept(db, 1)
    now = utcnow()
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    deferred = Outcome("deferred", "451 try later", "peer")
    assert db.write_sync(lambda c: queue.record(c, "A", [(jobs[0], deferred)], now)) == 1
    assert [e.event for e in _events(db, "soft-bounced")] == ["soft-bounced"]
    assert db.write_sync(lambda c: queue.claim(c, "B", 10, now, LEASE)) == []
    assert db.write_sync(lambda c: queue.claim(c, "B", 10, now + queue.DEFER_DELAY / 2, LEASE)) == []
    again = db.write_sync(lambda c: queue.claim(c, "B", 10, now + queue.DEFER_DELAY, LEASE))
    assert [j.delivery_id for j in again] == [jobs[0].delivery_id] and again[0].attempts == 2
