"""Simulator recipients through the whole pipeline: every outcome, with a short retry schedule."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from postroom.delivery.simulator import SimulatorTransport
from postroom.delivery.transports.capture import CaptureTransport
from postroom.delivery.worker import DeliveryWorker
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.storage.tables import deliveries, events, suppressions

SIM = "simulator.postroom.test"


def _kinds(events: list[dict[str, Any]], recipient: str) -> list[str]:
    return [e["event"] for e in reversed(events) if e["recipient"] == recipient]  # newest first


def _wait(
    server: Any, email_id: str, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 15
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = server.post("activity/search", {"search_email_id": email_id}).json()["data"]["events"]
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_every_simulator_address_produces_its_outcome(make_server: Any) -> None:
    server = make_server(retry_schedule="1s", max_queue_lifetime="3s")
    to = [
        f"{name}@{SIM}"
        for name in ("delivered", "softbounce", "deferred", "hardbounce", "spam", "open", "click")
    ]
    email_id = server.send(to=to)

    def settled(found: list[dict[str, Any]]) -> bool:
        return any(e["event"] == "hard-bounced" and e["recipient"] == f"deferred@{SIM}" for e in found)

    found = _wait(server, email_id, settled)
    assert _kinds(found, f"delivered@{SIM}") == ["processed", "delivered"]
    assert _kinds(found, f"softbounce@{SIM}") == ["processed", "soft-bounced", "soft-bounced", "delivered"]
    assert _kinds(found, f"hardbounce@{SIM}") == ["processed", "hard-bounced"]
    assert _kinds(found, f"spam@{SIM}") == ["processed", "delivered", "spam"]
    assert _kinds(found, f"open@{SIM}") == ["processed", "delivered", "opened"]
    assert _kinds(found, f"click@{SIM}") == ["processed", "delivered", "clicked"]
    deferred = _kinds(found, f"deferred@{SIM}")
    assert deferred[0] == "processed" and deferred[-1] == "hard-bounced"
    assert set(deferred[1:-1]) == {"soft-bounced"} and len(deferred) >= 4
    bounce = next(e for e in found if e["event"] == "hard-bounced" and e["recipient"] == f"hardbounce@{SIM}")
    assert bounce["smtp_response"].startswith("550 5.1.1") and bounce["host"] == SIM
    processed = next(e for e in found if e["event"] == "processed" and e["recipient"] == f"softbounce@{SIM}")
    attempts = processed["delivery_attempts"]
    assert [a["smtpresponse"][:3] for a in attempts] == ["451", "451", "250"]
    # simulator recipients never enter the suppression list: the same address works again
    db = server.app.state.services.db
    assert db.read_sync(lambda c: list(c.execute(select(suppressions)))) == []
    again = server.send(to=[f"hardbounce@{SIM}"])
    found = _wait(server, again, lambda f: len(f) >= 2)
    assert _kinds(found, f"hardbounce@{SIM}") == ["processed", "hard-bounced"]


def test_a_slow_simulator_recipient_holds_up_no_other_delivery(db: Any) -> None:
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)
    req = SendRequest(sender="s@example.com", to=[f"slow@{SIM}", "t@example.com"], subject="s", text_body="t")

    async def go() -> list[tuple[str, str]]:
        await service.accept(service.prepare_send(principal, req, "127.0.0.1"))
        worker = DeliveryWorker(
            db, CaptureTransport(), simulator_transport=SimulatorTransport(slow_seconds=2)
        )
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(1)
        early = _delivered(db)
        await asyncio.sleep(2)
        worker.stop()
        await task
        return [*early, ("-", "-"), *_delivered(db)]

    seen = asyncio.run(go())
    cut = seen.index(("-", "-"))
    assert [r for r, _ in seen[:cut]] == ["t@example.com"]
    assert sorted(r for r, _ in seen[cut + 1 :]) == [f"slow@{SIM}", "t@example.com"]


def _delivered(db: Any) -> list[tuple[str, str]]:
    rows = db.read_sync(lambda c: list(c.execute(select(events.c.recipient, events.c.event))))
    return [(r.recipient, r.event) for r in rows if r.event == "delivered"]


def test_stopping_gives_back_what_cannot_finish_within_the_grace_period(db: Any) -> None:
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)
    req = SendRequest(sender="s@example.com", to=[f"slow@{SIM}"], subject="s", text_body="t")

    async def go() -> None:
        await service.accept(service.prepare_send(principal, req, "127.0.0.1"))
        worker = DeliveryWorker(
            db,
            CaptureTransport(),
            simulator_transport=SimulatorTransport(slow_seconds=60),
            shutdown_grace=0.2,
        )
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(0.5)
        worker.stop()
        await asyncio.wait_for(task, 5)

    asyncio.run(go())
    row = db.read_sync(lambda c: c.execute(select(deliveries)).one())
    assert (row.status, row.locked_by, row.attempts) == ("queued", None, 0)
    assert _delivered(db) == []
