"""The dispatcher: claims due webhook notifications, posts them, records every attempt.

`run()` until `stop()`. Claims go through the outbox with a lease, so any number of processes can
dispatch from one database and a dead process's claims are taken again after the lease (at least
once: a notification posted but not yet recorded when a process dies is posted again, with the same
`id`, so receivers can drop the duplicate). Each claimed notification is posted concurrently; one
of a lane (a webhook, a message, a recipient) is claimed only after the one before it settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import uuid
from datetime import timedelta

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.dispatch import outbox, payload
from postroom.dispatch.outbox import Attempt, Notification
from postroom.dispatch.schedule import RetrySchedule
from postroom.dispatch.sender import WebhookSender
from postroom.storage.database import Database

log = logging.getLogger(__name__)
IDLE_POLL = 0.25  # seconds between looks for due notifications (others' events, retries) when idle


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (decisions.md: Webhooks)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def request_of(notification: Notification, timestamp: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a notification's POST."""
    hook = notification.webhook
    body, content_type = payload.encode(payload.build(notification), hook["output_format"])
    headers = {
        "Content-Type": content_type,
        "X-Postroom-Webhook-Id": str(hook["id"]),
        "X-Postroom-Signature": signature(hook["secret"], timestamp, body),
    }
    if hook["auth_header_type"] == "bearer" and hook["auth_header_value"]:
        headers["Authorization"] = f"Bearer {hook['auth_header_value']}"
    elif hook["auth_header_type"] == "basic" and hook["auth_header_value"]:
        headers["Authorization"] = f"Basic {hook['auth_header_value']}"
    return body, headers


class Dispatcher:
    def __init__(
        self,
        db: Database,
        sender: WebhookSender,
        schedule: RetrySchedule,
        *,
        clock: Clock = SYSTEM_CLOCK,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 500,
    ) -> None:
        self._db = db
        self._sender = sender
        self._schedule = schedule
        self._clock = clock
        self._lease = lease
        self._batch = batch
        self.worker_id = f"dispatch-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """New events were written in this process: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    done = await self.run_once()
                except Exception:
                    log.exception("webhook dispatch failed; trying again shortly")
                    done = 0
                if done == 0 and not self._stopping:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_POLL)
                    self._wake.clear()
        finally:
            await self._sender.close()

    async def run_once(self) -> int:
        """Claim what is due, post it, record it; how many notifications were attempted."""
        now = self._clock.now()
        if not await self._db.read(lambda c: outbox.anything_due(c, now)):
            return 0
        claimed = await self._db.write(
            lambda c: outbox.claim(c, self.worker_id, self._batch, now, self._lease)
        )
        if not claimed:
            return 0
        await asyncio.gather(*(self._settle(n) for n in claimed))
        return len(claimed)

    async def _settle(self, notification: Notification) -> None:
        """Post one notification and record the attempt at once (concurrent records share a commit),
        so a process that dies loses only the posts still in flight, not the whole claimed batch."""
        attempt = await self._attempt(notification)
        settled_at = self._clock.now()
        await self._db.write(
            lambda c: outbox.record(c, self.worker_id, [(notification, attempt)], settled_at, self._schedule)
        )

    async def _attempt(self, notification: Notification) -> Attempt:
        try:
            body, headers = request_of(notification, int(self._clock.timestamp()))
        except Exception as exc:  # a payload that cannot be built is a failed attempt, not a crash
            log.exception("building webhook notification %s failed", notification.id)
            return Attempt(None, 0, error=f"the payload could not be built: {exc}")
        attempt = await self._sender.post(notification.webhook["url"], body, headers)
        last = (
            self._schedule.next_attempt(notification.event_row["created_at"], notification.attempts + 1)
            is None
        )
        if not attempt.succeeded and last:
            log.warning(
                "webhook %s notification %s (%s of %s) failed every attempt for %s and is marked failed: %s",
                notification.webhook["id"],
                notification.id,
                notification.event,
                notification.event_row["email_id"],
                self._schedule.span,
                attempt.error or f"HTTP {attempt.status}",
            )
        elif not attempt.succeeded:
            log.info(
                "webhook %s notification %s attempt %d failed: %s",
                notification.webhook["id"],
                notification.id,
                notification.attempts + 1,
                attempt.error or f"HTTP {attempt.status}",
            )
        return attempt
