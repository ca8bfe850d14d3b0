"""Managing webhooks: validation (URL and SSRF policy, event names, formats), the per-account limit,
signing secrets, and stopping a removed or disabled webhook's pending notifications.

Raises InvalidInput for a field that fails validation (the URL, a private target under the SSRF
policy, an unknown event name, …), NotFound for a webhook the account does not have (another
tenant's included: its existence is never revealed), and Conflict beyond the allowed number.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection

from postroom.clock import SYSTEM_CLOCK, Clock, rfc3339
from postroom.dispatch import outbox
from postroom.dispatch.events import EMAIL_EVENTS, SMS_EVENTS
from postroom.dispatch.samples import samples
from postroom.dispatch.sender import WebhookSender
from postroom.dispatch.targets import TargetRefused, parse_target, vetted
from postroom.dispatch.worker import request_of
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.webhooks import repo
from postroom.features.webhooks.schemas import (
    AttemptResult,
    NotificationPage,
    NotificationQuery,
    NotificationResult,
    TestResult,
    WebhookEditRequest,
    WebhookFields,
    WebhookResult,
)
from postroom.storage.database import Database

OUTPUT_FORMATS = ("form", "json")
AUTH_TYPES = ("", "bearer", "basic")


def _names(value: list[str] | str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    return list(dict.fromkeys(s.strip() for s in items if s.strip()))


def _events(field: str, given: list[str], allowed: tuple[str, ...]) -> list[str]:
    names = list(dict.fromkeys(e.strip().lower() for e in given if e.strip()))
    for name in names:
        if name not in allowed:
            raise InvalidInput(
                field, f"{name!r} is not an event a webhook can subscribe to ({', '.join(allowed)})"
            )
    return names


def _result(row: dict[str, Any], with_secret: bool = False) -> WebhookResult:
    return WebhookResult(
        id=int(row["id"]),
        url=row["url"],
        events=list(row["events"]),
        sms_events=list(row["sms_events"]),
        headers=list(row["headers"]),
        usernames=list(row["usernames"]),
        output_format=row["output_format"],
        auth_header_type=row["auth_header_type"],
        auth_header_value=row["auth_header_value"],
        disabled=bool(row["disabled"]),
        secret=row["secret"] if with_secret else "",
    )


class WebhookService:
    def __init__(
        self,
        db: Database,
        allow_private: bool,
        max_webhooks: int = 10,
        clock: Clock = SYSTEM_CLOCK,
        sender: WebhookSender | None = None,
    ) -> None:
        self._db = db
        self._allow_private = allow_private
        self._max = max_webhooks
        self._clock = clock
        self._sender = sender  # posts test events (`test`)

    async def _settings(self, req: WebhookFields) -> dict[str, Any]:
        """The validated columns of a request's settings."""
        url = req.url.strip()
        if not url:
            raise InvalidInput("url", "The field 'url' is required")
        try:
            await vetted(parse_target(url), self._allow_private)
        except TargetRefused as exc:
            raise InvalidInput("url", str(exc)) from None
        except OSError:
            pass  # not resolvable now: checked again at every connection
        output_format = req.output_format.strip().lower() or "form"
        if output_format not in OUTPUT_FORMATS:
            raise InvalidInput("output_format", "The field 'output_format' must be form or json")
        auth_type = req.auth_header_type.strip().lower()
        if auth_type not in AUTH_TYPES:
            raise InvalidInput(
                "auth_header_type", "The field 'auth_header_type' must be bearer, basic or empty"
            )
        if any(c in req.auth_header_value for c in "\r\n\0"):
            raise InvalidInput("auth_header_value", "The field 'auth_header_value' cannot hold line breaks")
        headers = _names(req.headers)
        for header in headers:
            if not header.isascii() or any(c in header for c in ": \t\r\n\0"):
                raise InvalidInput("headers", f"{header!r} is not a header name")
        return {
            "url": url,
            "events": _events("events", req.events, EMAIL_EVENTS),
            "sms_events": _events("sms_events", req.sms_events, SMS_EVENTS),
            "headers": headers,
            "usernames": _names(req.usernames),
            "output_format": output_format,
            "auth_header_type": auth_type,
            "auth_header_value": req.auth_header_value if auth_type else "",
            "disabled": req.disabled,
        }

    async def add(self, account_id: str, req: WebhookFields) -> WebhookResult:
        values = await self._settings(req)
        now = self._clock.now()
        row = {
            **values,
            "account_id": account_id,
            "secret": secrets.token_hex(32),
            "created_at": now,
            "updated_at": now,
        }
        return _result(
            await self._db.write(lambda conn: self._insert(conn, account_id, row)), with_secret=True
        )

    def _insert(self, conn: Connection, account_id: str, row: dict[str, Any]) -> dict[str, Any]:
        if repo.count(conn, account_id) >= self._max:
            raise Conflict(
                f"The account has {self._max} webhooks, the most it may have (POSTROOM_MAX_WEBHOOKS)"
            )
        return repo.insert_webhook(conn, row)

    async def edit(self, account_id: str, req: WebhookEditRequest) -> WebhookResult:
        if not req.id:
            raise InvalidInput("id", "The field 'id' is required")
        values = await self._settings(req)
        values["updated_at"] = self._clock.now()
        if req.rotate_secret:
            values["secret"] = secrets.token_hex(32)
        row = await self._db.write(lambda conn: self._change(conn, account_id, req.id, values))
        return _result(row, with_secret=True)

    def _change(
        self, conn: Connection, account_id: str, webhook_id: int, values: dict[str, Any]
    ) -> dict[str, Any]:
        if repo.get(conn, account_id, webhook_id) is None:
            raise NotFound(f"No webhook with id {webhook_id} was found")
        repo.change(conn, account_id, webhook_id, values)
        if values.get("disabled"):
            outbox.cancel_pending(conn, webhook_id, values["updated_at"])
        row = repo.get(conn, account_id, webhook_id)
        assert row is not None
        return row

    async def view(self, account_id: str, webhook_id: int = 0) -> list[WebhookResult]:
        rows = await self._db.read(lambda conn: repo.of_account(conn, account_id))
        if webhook_id:
            rows = [r for r in rows if r["id"] == webhook_id]
            if not rows:
                raise NotFound(f"No webhook with id {webhook_id} was found")
        return [_result(r) for r in rows]

    async def remove(self, account_id: str, webhook_id: int) -> WebhookResult:
        if not webhook_id:
            raise InvalidInput("id", "The field 'id' is required")
        return _result(await self._db.write(lambda conn: self._remove(conn, account_id, webhook_id)))

    def _remove(self, conn: Connection, account_id: str, webhook_id: int) -> dict[str, Any]:
        row = repo.get(conn, account_id, webhook_id)
        if row is None:
            raise NotFound(f"No webhook with id {webhook_id} was found")
        outbox.cancel_pending(conn, webhook_id, self._clock.now())
        repo.remove(conn, account_id, webhook_id)
        return row

    # --- the notifications of a webhook (/api/v1/webhooks/{id}/…) -----------------------------------

    async def _own(self, account_id: str, webhook_id: int) -> dict[str, Any]:
        row = await self._db.read(lambda conn: repo.get(conn, account_id, webhook_id))
        if row is None:
            raise NotFound(f"No webhook with id {webhook_id} was found")
        return row

    async def notifications(
        self, account_id: str, webhook_id: int, query: NotificationQuery
    ) -> NotificationPage:
        """The webhook's notifications, newest first, each with every attempt; a page of `limit`."""
        await self._own(account_id, webhook_id)
        before = _cursor(query.cursor)
        filters = {"state": query.state, "event": query.event, "email_id": query.email_id}
        rows = await self._db.read(
            lambda conn: outbox.notifications(conn, webhook_id, query.limit + 1, before, **filters)
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return NotificationPage(
            notifications=[_notification(r) for r in rows],
            next_cursor=str(rows[-1]["seq"]) if more else None,
        )

    async def retry(self, account_id: str, webhook_id: int, notification_id: str) -> bool:
        await self._own(account_id, webhook_id)
        now = self._clock.now()
        if not await self._db.write(lambda conn: outbox.reschedule(conn, webhook_id, notification_id, now)):
            raise NotFound(f"The webhook has no notification {notification_id!r} that is not delivered")
        return True

    async def cancel(self, account_id: str, webhook_id: int, notification_id: str) -> bool:
        await self._own(account_id, webhook_id)
        now = self._clock.now()
        if not await self._db.write(lambda conn: outbox.cancel(conn, webhook_id, notification_id, now)):
            raise NotFound(f"The webhook has no pending notification {notification_id!r}")
        return True

    async def test(self, account_id: str, webhook_id: int) -> list[TestResult]:
        """Post a sample of each event the webhook takes, now, and say what the receiver answered."""
        hook = await self._own(account_id, webhook_id)
        if self._sender is None:
            raise Conflict("This process cannot post test events")
        results = []
        for sample in samples(hook):
            body, headers = request_of(sample, int(self._clock.timestamp()))
            attempt = await self._sender.post(hook["url"], body, headers)
            results.append(
                TestResult(
                    sample.event,
                    sample.id,
                    attempt.status,
                    attempt.duration_ms,
                    attempt.response_start,
                    attempt.error,
                )
            )
        return results


def _cursor(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("cursor", "The cursor is not one this server gave")
    return int(text)


FAILED_NOTE = "every attempt failed until the retry schedule ended; the webhook stays enabled"


def _notification(row: dict[str, Any]) -> NotificationResult:
    return NotificationResult(
        id=row["id"],
        event=row["event"],
        email_id=row["email_id"],
        recipient=row["recipient"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=rfc3339(row["next_attempt_at"]) if row["state"] == "pending" else None,
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=rfc3339(row["created_at"]),
        note=FAILED_NOTE if row["state"] == "failed" else "",
        attempt_log=[
            AttemptResult(
                attempted_at=rfc3339(a["attempted_at"]),
                status_code=a["status_code"],
                duration_ms=a["duration_ms"],
                response_start=a["response_start"],
                error=a["error"],
            )
            for a in row["attempt_log"]
        ],
    )
