"""Feedback intake: DSNs and ARF reports sent to VERP return paths become events on their deliveries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from postroom.clock import utcnow
from postroom.delivery import queue
from postroom.delivery.transports.base import Outcome
from postroom.delivery.wire import VERP_SECRET
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.features.feedback.service import FeedbackService
from postroom.mail import verp
from postroom.storage.state import shared_secret
from postroom.storage.tables import deliveries, events, feedback_messages, suppressions

DOMAIN = "bounces.example.com"
LEASE = timedelta(minutes=5)


def _sent(db: Any) -> tuple[str, dict[str, int]]:
    """A message to two recipients, delivered; its email_id and delivery id per recipient."""
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)
    req = SendRequest(
        sender="s@example.com", to=["a@example.org", "b@example.org"], subject="s", text_body="t"
    )
    email_id = asyncio.run(service.accept(service.prepare_send(principal, req, "127.0.0.1")))
    now = utcnow()
    jobs = db.write_sync(lambda c: queue.claim(c, "w", 10, now, LEASE))
    db.write_sync(
        lambda c: queue.record(c, "w", [(j, Outcome("delivered", "250 ok", "mx")) for j in jobs], now)
    )
    return email_id, {j.recipient: j.delivery_id for j in jobs}


def _dsn(recipient: str, action: str, status: str, message_id: str = "<x@y>") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: whoever\r\nSubject: Undelivered Mail\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Remote-MTA: dns; mx2.example.org\r\nDiagnostic-Code: smtp; 550 {status} user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: s@example.com\r\nTo: {recipient}\r\nMessage-ID: {message_id}\r\nSubject: s\r\n\r\n"
        "--B--\r\n"
    ).encode()


def _arf(recipient: str) -> bytes:
    return (
        "From: fbl@isp.example\r\nTo: x\r\nSubject: FW: s\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n\r\n'
        "--F\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report\r\n"
        "--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {recipient}\r\n\r\n"
        "--F\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: s@example.com\r\nSubject: s\r\n\r\n--F--\r\n"
    ).encode()


def _return_path(db: Any, delivery_id: int) -> str:
    secret = db.write_sync(lambda c: shared_secret(c, VERP_SECRET))
    return verp.return_path(delivery_id, DOMAIN, secret)


def _rows(db: Any, table: Any) -> list[Any]:
    return db.read_sync(lambda c: list(c.execute(select(table))))


def test_a_dsn_to_the_return_path_hard_bounces_that_delivery_and_suppresses_the_recipient(db: Any) -> None:
    _, ids = _sent(db)
    service = FeedbackService(db, DOMAIN)
    to = _return_path(db, ids["a@example.org"])
    assert service.is_return_path(to) and not service.is_return_path("bounces+1-abc@elsewhere.example")
    got = asyncio.run(service.receive([to], _dsn("a@example.org", "failed", "5.1.1")))
    assert (got.kind, got.events) == ("dsn", 1)
    bounce = [e for e in _rows(db, events) if e.event == "hard-bounced"]
    assert [(e.recipient, e.host, e.smtp_response) for e in bounce] == [
        ("a@example.org", "mx2.example.org", "550 5.1.1 user unknown")
    ]
    status = {r.recipient: r.status for r in _rows(db, deliveries)}
    assert status == {"a@example.org": "bounced", "b@example.org": "delivered"}
    assert [(s.email_address, s.type) for s in _rows(db, suppressions)] == [("a@example.org", "bounce")]
    kept = _rows(db, feedback_messages)
    assert [(k.kind, k.delivery_id) for k in kept] == [("dsn", ids["a@example.org"])]


def test_a_forged_return_path_is_matched_only_through_the_returned_message_id(db: Any) -> None:
    email_id, ids = _sent(db)
    service = FeedbackService(db, DOMAIN)
    forged = f"bounces+{ids['b@example.org']}-0000000000@{DOMAIN}"
    asyncio.run(service.receive([forged], _dsn("a@example.org", "failed", "5.1.1")))
    assert [e.event for e in _rows(db, events) if e.event.endswith("bounced")] == []
    asyncio.run(
        service.receive([forged], _dsn("b@example.org", "failed", "5.2.1", f"<{email_id}@example.com>"))
    )
    assert [(e.recipient, e.event) for e in _rows(db, events) if e.event.endswith("bounced")] == [
        ("b@example.org", "hard-bounced")
    ]


def test_a_delay_notice_is_a_soft_bounce_and_the_delivery_stays_delivered(db: Any) -> None:
    _, ids = _sent(db)
    service = FeedbackService(db, DOMAIN)
    asyncio.run(
        service.receive([_return_path(db, ids["b@example.org"])], _dsn("b@example.org", "delayed", "4.4.7"))
    )
    assert [e.event for e in _rows(db, events) if e.recipient == "b@example.org"][-1] == "soft-bounced"
    assert {r.status for r in _rows(db, deliveries)} == {"delivered"}
    assert _rows(db, suppressions) == []


def test_an_arf_complaint_is_a_spam_event_and_a_suppression(db: Any) -> None:
    _, ids = _sent(db)
    service = FeedbackService(db, DOMAIN)
    got = asyncio.run(service.receive([_return_path(db, ids["a@example.org"])], _arf("a@example.org")))
    assert (got.kind, got.events) == ("arf", 1)
    spam = [e for e in _rows(db, events) if e.event == "spam"]
    assert [(e.recipient, e.reason) for e in spam] == [("a@example.org", "abuse report from ExampleFBL/1.0")]
    assert [(s.email_address, s.type) for s in _rows(db, suppressions)] == [("a@example.org", "spam")]


def test_what_cannot_be_understood_is_kept_and_says_so(db: Any) -> None:
    _sent(db)
    service = FeedbackService(db, DOMAIN)
    got = asyncio.run(service.receive([f"bounces@{DOMAIN}"], b"\x00\xffnot a message at all"))
    assert got.events == 0
    kept = _rows(db, feedback_messages)
    assert len(kept) == 1 and kept[0].raw == b"\x00\xffnot a message at all"
    assert kept[0].delivery_id is None and "no delivery matched" in kept[0].summary
