"""/allowed_senders/* and /allowed_recipients/*: decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.allowed_lists.schemas import (
    RecipientsRequest,
    RecipientsResult,
    RecipientsUpdateRequest,
    SendersRequest,
    SendersResult,
    SendersUpdateRequest,
    enabled_given,
    require_list,
)
from postroom.features.allowed_lists.service import AllowedListService
from postroom.features.endpoints import Call, Endpoint, Handler, Table


def _lists(call: Call) -> AllowedListService:
    return call.services.allowed_lists


async def senders_view(call: Call) -> Any:
    return await _lists(call).view_senders(call.principal.account_id)


async def senders_add(call: Call) -> Any:
    req = call.parse(SendersRequest)
    return await _lists(call).add_senders(call.principal.account_id, req.allowed_senders)


async def senders_remove(call: Call) -> Any:
    req = call.parse(SendersRequest)
    return await _lists(call).remove_senders(call.principal.account_id, req.allowed_senders)


async def senders_update(call: Call) -> Any:
    req = call.parse(SendersUpdateRequest)
    require_list(call.body, "allowed_senders")
    return await _lists(call).update_senders(call.principal.account_id, req.allowed_senders, req.mode)


async def recipients_view(call: Call) -> Any:
    return await _lists(call).view_recipients(call.principal.account_id)


async def recipients_add(call: Call) -> Any:
    req = call.parse(RecipientsRequest)
    account_id, enabled = call.principal.account_id, enabled_given(call.body, req)
    return await _lists(call).add_recipients(account_id, req.allowed_recipients, enabled)


async def recipients_remove(call: Call) -> Any:
    req = call.parse(RecipientsRequest)
    account_id, enabled = call.principal.account_id, enabled_given(call.body, req)
    return await _lists(call).remove_recipients(account_id, req.allowed_recipients, enabled)


async def recipients_update(call: Call) -> Any:
    req = call.parse(RecipientsUpdateRequest)
    require_list(call.body, "allowed_recipients")
    account_id = call.principal.account_id
    return await _lists(call).update_recipients(account_id, req.allowed_recipients, req.enabled)


_ENDPOINTS: list[tuple[str, Handler, type | None, type, str]] = [
    ("/allowed_senders/view", senders_view, None, SendersResult, "Show the allowed senders and their mode"),
    ("/allowed_senders/add", senders_add, SendersRequest, SendersResult, "Add allowed senders"),
    ("/allowed_senders/remove", senders_remove, SendersRequest, SendersResult, "Remove allowed senders"),
    (
        "/allowed_senders/update",
        senders_update,
        SendersUpdateRequest,
        SendersResult,
        "Replace the allowed senders and set the mode (whitelist, blacklist or disabled)",
    ),
    (
        "/allowed_recipients/view",
        recipients_view,
        None,
        RecipientsResult,
        "Show the allowed recipients and whether they are enforced",
    ),
    (
        "/allowed_recipients/add",
        recipients_add,
        RecipientsRequest,
        RecipientsResult,
        "Add allowed recipients",
    ),
    (
        "/allowed_recipients/remove",
        recipients_remove,
        RecipientsRequest,
        RecipientsResult,
        "Remove allowed recipients",
    ),
    (
        "/allowed_recipients/update",
        recipients_update,
        RecipientsUpdateRequest,
        RecipientsResult,
        "Replace the allowed recipients and turn their enforcement on or off",
    ),
]


def register(registry: Table) -> None:
    for path, handler, request, response, summary in _ENDPOINTS:
        registry.add(Endpoint(path, handler, request, response, summary))
