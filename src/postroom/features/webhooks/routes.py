"""/webhook/*: decode (the seed's `webhook_id` is `id`), one service call, envelope."""

from __future__ import annotations

from typing import Any, TypeVar

from postroom.bodies import convert
from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.webhooks.schemas import (
    WebhookAddRequest,
    WebhookEditRequest,
    WebhookIdRequest,
    WebhookResult,
)

T = TypeVar("T")


def _parse(call: Call, kind: type[T]) -> T:
    body = dict(call.body)
    if "webhook_id" in body and body.get("id") in (None, ""):
        body["id"] = body.pop("webhook_id")
    return convert(body, kind)


async def add(call: Call) -> Any:
    return await call.services.webhooks.add(call.principal.account_id, call.parse(WebhookAddRequest))


async def edit(call: Call) -> Any:
    return await call.services.webhooks.edit(call.principal.account_id, _parse(call, WebhookEditRequest))


async def view(call: Call) -> Any:
    return await call.services.webhooks.view(call.principal.account_id, _parse(call, WebhookIdRequest).id)


async def remove(call: Call) -> Any:
    return await call.services.webhooks.remove(call.principal.account_id, _parse(call, WebhookIdRequest).id)


ENDPOINTS = [
    Endpoint(
        "/webhook/add",
        add,
        WebhookAddRequest,
        WebhookResult,
        "Add a webhook: where the account's events are posted (answers its signing secret)",
    ),
    Endpoint(
        "/webhook/edit",
        edit,
        WebhookEditRequest,
        WebhookResult,
        "Replace a webhook's settings (rotate_secret: a new signing secret)",
    ),
    Endpoint(
        "/webhook/view",
        view,
        WebhookIdRequest,
        list[WebhookResult],
        "List the account's webhooks (id: just that one)",
    ),
    Endpoint(
        "/webhook/remove",
        remove,
        WebhookIdRequest,
        WebhookResult,
        "Remove a webhook; its pending notifications are cancelled",
    ),
]


def register(registry: Table) -> None:
    for endpoint in ENDPOINTS:
        registry.add(endpoint)
