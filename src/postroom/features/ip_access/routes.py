"""/ip_auth/*, /ip_allow_list* and the seed's /ip_allowlist/* aliases: decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Handler, Table
from postroom.features.ip_access.schemas import (
    AllowListAddRequest,
    AllowListEditRequest,
    AllowListEnableRequest,
    AllowListEnableResult,
    AllowListEntry,
    AllowListRemoveRequest,
    AllowListResult,
    AllowListViewRequest,
    IpAuthRemoveRequest,
    IpAuthRequest,
    IpAuthResult,
    IpAuthsResult,
    IpAuthViewRequest,
)
from postroom.features.smtp_users.schemas import given_fields


async def ip_auth_view(call: Call) -> Any:
    req = call.parse(IpAuthViewRequest)
    return IpAuthsResult(
        await call.services.ip_access.view_ip_auth(call.principal.account_id, req.ip_address)
    )


async def ip_auth_edit(call: Call) -> Any:
    """PATCH changes only the settings given, POST resets the others; both create a missing entry."""
    patch = call.method == "PATCH"
    only = given_fields(call.body) if patch else None
    req = call.parse(IpAuthRequest)
    entry = await call.services.ip_access.edit_ip_auth(call.principal.account_id, req, only)
    return [entry] if patch else IpAuthsResult([entry])


async def ip_auth_remove(call: Call) -> Any:
    req = call.parse(IpAuthRemoveRequest)
    entry = await call.services.ip_access.remove_ip_auth(call.principal.account_id, req.ip_address)
    return IpAuthsResult([entry])


async def allow_list_enable(call: Call) -> Any:
    req = call.parse(AllowListEnableRequest)
    enabled = await call.services.ip_access.enable_allow_list(
        call.principal.account_id, req.type, req.enabled
    )
    return AllowListEnableResult(enabled)


async def allow_list_view(call: Call) -> Any:
    req = call.parse(AllowListViewRequest)
    return await call.services.ip_access.view_allow_list(call.principal.account_id, req.type)


async def allow_list_add(call: Call) -> Any:
    req = call.parse(AllowListAddRequest)
    account_id = call.principal.account_id
    return await call.services.ip_access.add_to_allow_list(
        account_id, req.type, req.ip_address, req.description
    )


async def allow_list_edit(call: Call) -> Any:
    req = call.parse(AllowListEditRequest)
    return await call.services.ip_access.edit_allow_list_entry(
        call.principal.account_id, req.type, req.ip_address, req.new_ip_address, req.description
    )


async def allow_list_remove(call: Call) -> Any:
    req = call.parse(AllowListRemoveRequest)
    return await call.services.ip_access.remove_from_allow_list(
        call.principal.account_id, req.type, req.ip_address
    )


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/ip_auth/view",
            ip_auth_view,
            IpAuthViewRequest,
            IpAuthsResult,
            "List the account's IP auth entries",
        )
    )
    registry.add(
        Endpoint(
            "/ip_auth/edit",
            ip_auth_edit,
            IpAuthRequest,
            IpAuthsResult | list[IpAuthResult],
            "Create or edit an IP auth entry: PATCH changes only the settings given, POST resets the others",
            methods=("POST", "PATCH"),
            aliases=("/ip_auth/patch",),
        )
    )
    registry.add(
        Endpoint(
            "/ip_auth/remove", ip_auth_remove, IpAuthRemoveRequest, IpAuthsResult, "Remove an IP auth entry"
        )
    )
    registry.add(
        Endpoint(
            "/ip_allow_list",
            allow_list_enable,
            AllowListEnableRequest,
            AllowListEnableResult,
            "Turn the enforcement of an IP allow list (smtp or api) on or off",
        )
    )
    registry.add(
        _listed("view", allow_list_view, AllowListViewRequest, AllowListResult, "Show an IP allow list")
    )
    registry.add(
        _listed("add", allow_list_add, AllowListAddRequest, AllowListEntry, "Add to an IP allow list")
    )
    registry.add(_listed("edit", allow_list_edit, AllowListEditRequest, AllowListEntry, "Change an entry"))
    registry.add(
        _listed("remove", allow_list_remove, AllowListRemoveRequest, AllowListEntry, "Remove an entry")
    )


def _listed(action: str, handler: Handler, request: type, response: type, summary: str) -> Endpoint:
    """/ip_allow_list/<action>, with the seed's /ip_allowlist/<action> as its alias."""
    path, alias = f"/ip_allow_list/{action}", f"/ip_allowlist/{action}"
    return Endpoint(path, handler, request, response, summary, aliases=(alias,))
