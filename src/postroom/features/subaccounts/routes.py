"""/subaccount/{add,edit,close,reopen,reinvite} and /subaccounts/search, with the seed's aliases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from postroom.bodies import drop_absent
from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.subaccounts.schemas import (
    EmailCycleResult,
    SubaccountAddRequest,
    SubaccountEditRequest,
    SubaccountIdRequest,
    SubaccountResult,
    SubaccountSearchRequest,
    SubaccountSearchResult,
)
from postroom.features.subaccounts.service import COLUMNS


async def add(call: Call) -> Any:
    return await call.services.subaccounts.add(call.principal, call.parse(SubaccountAddRequest))


async def edit(call: Call) -> Any:
    given = set(drop_absent(call.body)) & set(COLUMNS)
    return await call.services.subaccounts.edit(call.principal, call.parse(SubaccountEditRequest), given)


async def search(call: Call) -> Any:
    return await call.services.subaccounts.search(call.principal, call.parse(SubaccountSearchRequest))


async def close(call: Call) -> Any:
    return await call.services.subaccounts.set_state(
        call.principal, call.parse(SubaccountIdRequest).id, "closed"
    )


async def reopen(call: Call) -> Any:
    return await call.services.subaccounts.set_state(
        call.principal, call.parse(SubaccountIdRequest).id, "active"
    )


async def reinvite(call: Call) -> Any:
    return await call.services.subaccounts.reinvite(call.principal, call.parse(SubaccountIdRequest).id)


async def email_cycle(call: Call) -> Any:
    start, used, plan = await call.services.subaccounts.cycle(call.principal.account_id)
    end = (start + timedelta(days=32)).replace(day=1)
    return EmailCycleResult(
        cycle_start=f"{start:%Y-%m-%d %H:%M:%S}+00:00",
        cycle_end=f"{end:%Y-%m-%d %H:%M:%S}+00:00",
        cycle_used=used,
        cycle_remaining=max(0, plan - used),
        cycle_max=plan,
    )


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/stats/email_cycle",
            email_cycle,
            None,
            EmailCycleResult,
            "This month's email count against the account's monthly plan (the calendar month)",
        )
    )
    registry.add(
        Endpoint("/subaccount/add", add, SubaccountAddRequest, SubaccountResult, "Create a subaccount")
    )
    registry.add(
        Endpoint(
            "/subaccount/edit",
            edit,
            SubaccountEditRequest,
            SubaccountResult,
            "Change a subaccount's settings (only those given)",
            aliases=("/subaccount/update",),
        )
    )
    registry.add(
        Endpoint(
            "/subaccounts/search",
            search,
            SubaccountSearchRequest,
            SubaccountSearchResult,
            "List or search the account's subaccounts",
            aliases=("/subaccount/search",),
        )
    )
    registry.add(
        Endpoint(
            "/subaccount/close",
            close,
            SubaccountIdRequest,
            str,
            "Close a subaccount: its API keys are refused until it is reopened",
        )
    )
    registry.add(
        Endpoint("/subaccount/reopen", reopen, SubaccountIdRequest, str, "Reopen a closed subaccount")
    )
    registry.add(
        Endpoint(
            "/subaccount/reinvite",
            reinvite,
            SubaccountIdRequest,
            str,
            "Mail a subaccount's invitation again with a new link (older links stop working)",
            aliases=("/subaccount/resend_invite",),
        )
    )
