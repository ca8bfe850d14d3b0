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

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.dispatch import outbox
from postroom.dispatch.events import EMAIL_EVENTS, SMS_EVENTS
from postroom.dispatch.targets import TargetRefused, parse_target, vetted
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.webhooks import repo
from postroom.features.webhooks.schemas import WebhookEditRequest, WebhookFields, WebhookResult
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
        self, db: Database, allow_private: bool, max_webhooks: int = 10, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._db = db
        self._allow_private = allow_private
        self._max = max_webhooks
        self._clock = clock

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
