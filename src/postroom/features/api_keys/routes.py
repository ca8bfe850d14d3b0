"""/api_keys/{add,edit,view,remove,permissions} and PATCH /api_keys/patch: decode, one call, envelope.

`data` is an array of key objects on every one of them (the reference's example, not its schema).
"""

from __future__ import annotations

from typing import Any

from postroom.features.api_keys.schemas import (
    KeyAddRequest,
    KeyEditRequest,
    KeyRemoveRequest,
    KeyResult,
    KeyViewRequest,
    PermissionsRequest,
    given_fields,
)
from postroom.features.endpoints import Call, Endpoint, Table


async def add(call: Call) -> Any:
    req = call.parse(KeyAddRequest)
    return [await call.services.keys.admin.add(call.principal, req, call.catalog)]


async def edit(call: Call) -> Any:
    """POST replaces the settings (omitted ones reset to defaults); PATCH changes only those given."""
    only = given_fields(call.body) if call.method == "PATCH" else None
    req = call.parse(KeyEditRequest)
    catalog = call.catalog
    return [await call.services.keys.admin.edit(call.principal, req, only, catalog)]


async def view(call: Call) -> Any:
    req = call.parse(KeyViewRequest)
    return await call.services.keys.admin.view(call.principal, req.id, req.search)


async def remove(call: Call) -> Any:
    req = call.parse(KeyRemoveRequest)
    return [await call.services.keys.admin.remove(call.principal, req.id, call.catalog)]


async def permissions(call: Call) -> Any:
    return call.services.keys.admin.permissions(call.principal, call.catalog)


def register(registry: Table) -> None:
    keys = list[KeyResult]
    registry.add(
        Endpoint("/api_keys/add", add, KeyAddRequest, keys, "Add an API key (shown in full only here)")
    )
    registry.add(
        Endpoint(
            "/api_keys/edit",
            edit,
            KeyEditRequest,
            keys,
            "Edit an API key: POST replaces its settings, PATCH changes only those given",
            methods=("POST", "PATCH"),
            aliases=("/api_keys/patch",),
        )
    )
    registry.add(Endpoint("/api_keys/view", view, KeyViewRequest, keys, "The account's API keys (masked)"))
    registry.add(Endpoint("/api_keys/remove", remove, KeyRemoveRequest, keys, "Remove an API key"))
    registry.add(
        Endpoint(
            "/api_keys/permissions",
            permissions,
            PermissionsRequest,
            list[str],
            "The endpoints the calling key may call (any key may ask)",
        )
    )
