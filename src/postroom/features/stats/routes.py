"""/stats/*: decode, one service call, envelope (/stats/email_cycle is the subaccounts area's)."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.stats.schemas import (
    BouncesResult,
    HistoryRequest,
    HistoryResult,
    SpamResult,
    SummaryResult,
    UnsubsResult,
    UsernameRequest,
)


async def summary(call: Call) -> Any:
    return await call.services.stats.summary(call.principal.account_id, call.parse(UsernameRequest).username)


async def bounces(call: Call) -> Any:
    return await call.services.stats.bounces(call.principal.account_id, call.parse(UsernameRequest).username)


async def spam(call: Call) -> Any:
    return await call.services.stats.spam(call.principal.account_id, call.parse(UsernameRequest).username)


async def unsubs(call: Call) -> Any:
    return await call.services.stats.unsubs(call.principal.account_id, call.parse(UsernameRequest).username)


async def history(call: Call) -> Any:
    return await call.services.stats.history(call.principal, call.parse(HistoryRequest))


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/stats/email_summary",
            summary,
            UsernameRequest,
            SummaryResult,
            "This cycle's figures: emails, bounces, spam, unsubscribes, opens, clicks, rejects",
        )
    )
    registry.add(
        Endpoint(
            "/stats/email_bounces", bounces, UsernameRequest, BouncesResult, "Bounces over the last 30 days"
        )
    )
    registry.add(
        Endpoint(
            "/stats/email_spam", spam, UsernameRequest, SpamResult, "Spam complaints over the last 30 days"
        )
    )
    registry.add(
        Endpoint(
            "/stats/email_unsubs", unsubs, UsernameRequest, UnsubsResult, "Unsubscribes over the last 30 days"
        )
    )
    registry.add(
        Endpoint(
            "/stats/email_history",
            history,
            HistoryRequest,
            HistoryResult,
            "Figures per sender address, username, domain or subaccount over a date range",
        )
    )
