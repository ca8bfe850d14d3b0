"""/webhook/*: decode (the seed's `webhook_id` is `id`), one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.webhooks.schemas import (
    WebhookAddRequest,
    WebhookEditRequest,
    WebhookIdRequest,
    WebhookResult,
)

SYNONYMS = {"webhook_id": "id"}  # the seed's name for `id`


async def add(call: Call) -> Any:
    return await call.services.webhooks.add(call.principal.account_id, call.parse(WebhookAddRequest))


async def edit(call: Call) -> Any:
    return await call.services.webhooks.edit(
        call.principal.account_id, call.parse(WebhookEditRequest, SYNONYMS)
    )


async def view(call: Call) -> Any:
    return await call.services.webhooks.view(
        call.principal.account_id, call.parse(WebhookIdRequest, SYNONYMS).id
    )


async def remove(call: Call) -> Any:
    return await call.services.webhooks.remove(
        call.principal.account_id, call.parse(WebhookIdRequest, SYNONYMS).id
    )


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
