"""/activity/search and the deprecated /email/search."""

from __future__ import annotations

from typing import Any

from postroom.features.activity.schemas import (
    ActivitySearchRequest,
    ActivitySearchResult,
    EmailSearchRequest,
    EmailSearchResult,
)
from postroom.features.endpoints import Call, Endpoint, Table


async def activity_search(call: Call) -> Any:
    return await call.services.activity.search(call.principal, call.parse(ActivitySearchRequest))


async def email_search(call: Call) -> Any:
    return await call.services.activity.email_search(call.principal, call.parse(EmailSearchRequest))


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/activity/search",
            activity_search,
            ActivitySearchRequest,
            ActivitySearchResult,
            "Search the events of sent email",
        )
    )
    registry.add(
        Endpoint(
            "/email/search",
            email_search,
            EmailSearchRequest,
            EmailSearchResult,
            "Search sent email (deprecated: use /activity/search)",
        )
    )
