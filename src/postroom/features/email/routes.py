"""/email/send, /email/mime and /email/batch: decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.bodies import convert
from postroom.errors import PostroomError
from postroom.features.email.schemas import (
    BatchItemError,
    BatchRequest,
    MimeRequest,
    ScheduledItem,
    ScheduledRemoveRequest,
    ScheduledSearchRequest,
    SendRequest,
    SendResult,
)
from postroom.features.endpoints import Call, Endpoint, Table


async def send(call: Call) -> Any:
    return await call.services.email.send(call.principal, call.parse(SendRequest), call.client_ip)


async def mime(call: Call) -> Any:
    return await call.services.email.send_mime(call.principal, call.parse(MimeRequest), call.client_ip)


def _item(raw: dict[str, Any]) -> SendRequest | PostroomError:
    try:
        return convert(raw, SendRequest)
    except PostroomError as exc:
        return exc


async def batch(call: Call) -> Any:
    items = [_item(raw) for raw in call.parse(BatchRequest).emails]
    return await call.services.email.send_batch(call.principal, items, call.client_ip)


async def scheduled_search(call: Call) -> Any:
    return await call.services.email.scheduled(call.principal, call.parse(ScheduledSearchRequest))


async def scheduled_remove(call: Call) -> Any:
    req = call.parse(ScheduledRemoveRequest)
    return await call.services.email.remove_scheduled(call.principal, req.schedule_id)


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/email/send",
            send,
            SendRequest,
            SendResult,
            "Send an email (with fastaccept, data holds only email_id)",
        )
    )
    registry.add(Endpoint("/email/mime", mime, MimeRequest, SendResult, "Send a base64-encoded MIME message"))
    registry.add(
        Endpoint(
            "/email/batch",
            batch,
            BatchRequest,
            list[BatchItemError],
            "Send up to 100 emails, each validated on its own",
        )
    )
    registry.add(
        Endpoint(
            "/email/scheduled/search",
            scheduled_search,
            ScheduledSearchRequest,
            list[ScheduledItem],
            "Scheduled emails that are not yet sent",
            aliases=("/email/scheduled",),
        )
    )
    registry.add(
        Endpoint(
            "/email/scheduled/remove",
            scheduled_remove,
            ScheduledRemoveRequest,
            str,
            "Cancel a scheduled email before its time",
        )
    )
