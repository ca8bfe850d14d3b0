"""/users/smtp/{add,edit,view,remove} and the seed's /smtp/* aliases: decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.smtp_users.schemas import (
    SmtpUserRemoveRequest,
    SmtpUserRequest,
    SmtpUserResult,
    SmtpUsersResult,
    SmtpUserViewRequest,
    given_fields,
)


async def add(call: Call) -> Any:
    user = await call.services.smtp_users.add(call.principal.account_id, call.parse(SmtpUserRequest))
    return SmtpUsersResult([user])


async def edit(call: Call) -> Any:
    """POST replaces the settings (omitted ones reset to defaults); PATCH changes only those given."""
    patch = call.method == "PATCH"
    only = given_fields(call.body) if patch else None
    req = call.parse(SmtpUserRequest)
    user = await call.services.smtp_users.edit(call.principal.account_id, req, only)
    return [user] if patch else SmtpUsersResult([user])


async def view(call: Call) -> Any:
    req = call.parse(SmtpUserViewRequest)
    return SmtpUsersResult(await call.services.smtp_users.view(call.principal.account_id, req.username))


async def remove(call: Call) -> Any:
    req = call.parse(SmtpUserRemoveRequest)
    return SmtpUsersResult([await call.services.smtp_users.remove(call.principal.account_id, req.username)])


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/users/smtp/add",
            add,
            SmtpUserRequest,
            SmtpUsersResult,
            "Add an SMTP user (the password is shown in this response only)",
            aliases=("/smtp/add",),
        )
    )
    registry.add(
        Endpoint(
            "/users/smtp/edit",
            edit,
            SmtpUserRequest,
            SmtpUsersResult | list[SmtpUserResult],
            "Edit an SMTP user: POST replaces its settings, PATCH changes only those given",
            methods=("POST", "PATCH"),
            aliases=("/smtp/edit", "/smtp/patch"),
        )
    )
    registry.add(
        Endpoint(
            "/users/smtp/view",
            view,
            SmtpUserViewRequest,
            SmtpUsersResult,
            "List the account's SMTP users",
            aliases=("/smtp/view",),
        )
    )
    registry.add(
        Endpoint(
            "/users/smtp/remove",
            remove,
            SmtpUserRemoveRequest,
            SmtpUsersResult,
            "Remove an SMTP user",
            aliases=("/smtp/remove",),
        )
    )
