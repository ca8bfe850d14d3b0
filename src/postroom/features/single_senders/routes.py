"""/single_sender_emails/* (aliases /sender/*): decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Handler, Table
from postroom.features.single_senders.schemas import (
    AddRequest,
    AddResult,
    RemoveRequest,
    RemoveResult,
    SendersResult,
    ViewRequest,
)


async def add(call: Call) -> Any:
    req = call.parse(AddRequest)
    return await call.services.single_senders.add(call.principal, req.email_address, req.message)


async def view(call: Call) -> Any:
    req = call.parse(ViewRequest)
    return await call.services.single_senders.view(call.principal.account_id, req.email_address)


async def remove(call: Call) -> Any:
    req = call.parse(RemoveRequest)
    return await call.services.single_senders.remove(call.principal.account_id, req.email_address)


_ENDPOINTS: list[tuple[str, str, Handler, type, type, str]] = [
    (
        "/single_sender_emails/add",
        "/sender/add",
        add,
        AddRequest,
        AddResult,
        "Add a single sender email (unverified) and send it a verification link; adding it again resends",
    ),
    (
        "/single_sender_emails/view",
        "/sender/view",
        view,
        ViewRequest,
        SendersResult,
        "List the account's single sender emails and whether each is verified",
    ),
    (
        "/single_sender_emails/remove",
        "/sender/remove",
        remove,
        RemoveRequest,
        RemoveResult,
        "Remove a single sender email",
    ),
]


def register(registry: Table) -> None:
    for path, alias, handler, request, response, summary in _ENDPOINTS:
        registry.add(Endpoint(path, handler, request, response, summary, aliases=(alias,)))
