"""The delivery queue's promises: leases, at-least-once after a crash, no double recording."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from postroom.clock import utcnow
from postroom.delivery import queue
from postroom.delivery.retry import RetryPolicy
from postroom.delivery.transports.base import Outcome
from postroom.delivery.transports.capture import CaptureTransport
from postroom.delivery.worker import DeliveryWorker
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.storage.tables import deliveries, events, suppressions

LEASE = timedelta(minutes=5)
OK = Outcome("delivered", "250 ok", "peer")


def _accept(db: Any, n: int, prefix: str = "r") -> list[str]:
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)
    req = SendRequest(
        sender="s@example.com", to=[f"{prefix}{i}@example.com" for i in range(n)], subject="s", text_body="t"
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


def test_a_deferred_delivery_waits_for_its_place_in_the_retry_schedule(db: Any) -> None:
    _accept(db, 1)
    policy = RetryPolicy(delays=(60, 300), lifetime=3600)
    now = utcnow()
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    deferred = Outcome("deferred", "451 4.3.0 try later", "peer")
    assert db.write_sync(lambda c: queue.record(c, "A", [(jobs[0], deferred)], now, policy)) == 1
    assert [e.smtp_response for e in _events(db, "soft-bounced")] == ["451 4.3.0 try later"]
    assert db.write_sync(lambda c: queue.claim(c, "B", 10, now + timedelta(seconds=59), LEASE)) == []
    second = now + timedelta(seconds=60)
    again = db.write_sync(lambda c: queue.claim(c, "B", 10, second, LEASE))
    assert [j.delivery_id for j in again] == [jobs[0].delivery_id] and again[0].attempts == 2
    db.write_sync(lambda c: queue.record(c, "B", [(again[0], deferred)], second, policy))
    # the second wait is the schedule's second step (300 s), not the first again
    assert db.write_sync(lambda c: queue.claim(c, "C", 10, second + timedelta(seconds=299), LEASE)) == []
    assert len(db.write_sync(lambda c: queue.claim(c, "C", 10, second + timedelta(seconds=300), LEASE))) == 1


def test_past_the_queue_lifetime_a_deferral_becomes_a_hard_bounce_with_the_last_response(db: Any) -> None:
    _accept(db, 1)
    policy = RetryPolicy(delays=(60,), lifetime=100)
    now = utcnow()
    deferred = Outcome("deferred", "452 4.2.2 mailbox full", "mx.example.com")
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    db.write_sync(lambda c: queue.record(c, "A", [(jobs[0], deferred)], now, policy))
    t2 = now + timedelta(seconds=60)
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, t2, LEASE))
    db.write_sync(lambda c: queue.record(c, "A", [(jobs[0], deferred)], t2, policy))
    # the last retry is pulled in to the deadline (100 s), not 120 s
    t3 = now + timedelta(seconds=100)
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, t3, LEASE))
    assert len(jobs) == 1 and jobs[0].attempts == 3
    db.write_sync(lambda c: queue.record(c, "A", [(jobs[0], deferred)], t3 + timedelta(seconds=1), policy))
    bounce = _events(db, "hard-bounced")
    assert [(e.smtp_response, e.host) for e in bounce] == [("452 4.2.2 mailbox full", "mx.example.com")]
    assert "gave up after 3 attempts" in bounce[0].reason
    assert len(_events(db, "soft-bounced")) == 2
    row = db.read_sync(lambda c: c.execute(select(deliveries.c.status, deliveries.c.last_response)).one())
    assert tuple(row) == ("bounced", "452 4.2.2 mailbox full")
    assert _suppressed(db) == [("r0@example.com", "bounce")]


def test_hard_bounces_and_complaints_suppress_the_recipient_but_simulator_addresses_never(db: Any) -> None:
    _accept(db, 2)
    now = utcnow()
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    results = [
        (jobs[0], Outcome("bounced", "550 5.1.1 no such user", "mx")),
        (jobs[1], Outcome("delivered", "250 ok", "mx", followups=("spam",))),
    ]
    db.write_sync(lambda c: queue.record(c, "A", results, now))
    assert sorted(_suppressed(db)) == [("r0@example.com", "bounce"), ("r1@example.com", "spam")]
    assert len(_events(db, "spam")) == 1
    # the same outcome again (a second message) adds nothing twice
    _accept(db, 2, prefix="q")
    later = utcnow()
    again = db.write_sync(lambda c: queue.claim(c, "A", 10, later, LEASE))
    first = replace(again[0], recipient="r0@example.com")
    sim = replace(again[1], recipient="hardbounce@simulator.postroom.test")
    db.write_sync(lambda c: queue.record(c, "A", [(first, results[0][1]), (sim, results[0][1])], later))
    assert len(_suppressed(db)) == 2
    assert len(_events(db, "hard-bounced")) == 3


def test_release_gives_the_lease_back_without_counting_the_attempt(db: Any) -> None:
    _accept(db, 2)
    now = utcnow()
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    db.write_sync(lambda c: queue.release(c, "A", [j.delivery_id for j in jobs]))
    again = db.write_sync(lambda c: queue.claim(c, "B", 10, now, LEASE))
    assert sorted(j.delivery_id for j in again) == sorted(j.delivery_id for j in jobs)
    assert {j.attempts for j in again} == {1}


def test_claim_with_content_shares_one_copy_of_the_message_between_its_recipients(db: Any) -> None:
    _accept(db, 3)
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, utcnow(), LEASE, True))
    assert jobs[0].data.startswith(b"") and b"Subject: s" in jobs[0].data
    assert jobs[0].data is jobs[1].data is jobs[2].data


def _suppressed(db: Any) -> list[tuple[str, str]]:
    rows = db.read_sync(lambda c: list(c.execute(select(suppressions.c.email_address, suppressions.c.type))))
    return [tuple(r) for r in rows]


def test_a_suppressed_recipient_gets_a_rejected_event_instead_of_a_delivery(db: Any) -> None:
    _accept(db, 1)
    now = utcnow()
    jobs = db.write_sync(lambda c: queue.claim(c, "A", 10, now, LEASE))
    db.write_sync(
        lambda c: queue.record(c, "A", [(jobs[0], Outcome("bounced", "550 5.1.1 gone", "mx"))], now)
    )
    _accept(db, 2)  # r0 (suppressed) and r1
    later = utcnow() + timedelta(seconds=1)
    claimed = db.write_sync(lambda c: queue.claim(c, "B", 10, later, LEASE))
    assert [j.recipient for j in claimed] == ["r1@example.com"]
    assert [(e.recipient, e.reason) for e in _events(db, "rejected")] == [
        ("r0@example.com", "the recipient is on the suppression list")
    ]
