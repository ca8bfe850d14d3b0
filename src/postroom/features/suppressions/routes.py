"""/suppression/add|view|remove: decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.suppressions.schemas import (
    SuppressionAddRequest,
    SuppressionAddResult,
    SuppressionRemoveRequest,
    SuppressionRemoveResult,
    SuppressionViewRequest,
    SuppressionViewResult,
)
from postroom.features.suppressions.service import SuppressionService


def _suppressions(call: Call) -> SuppressionService:
    return SuppressionService(call.services.db)  # stateless: nothing cached, so removals apply at once


async def add(call: Call) -> Any:
    return await _suppressions(call).add(call.principal.account_id, call.parse(SuppressionAddRequest))


async def view(call: Call) -> Any:
    return await _suppressions(call).view(call.principal.account_id, call.parse(SuppressionViewRequest))


async def remove(call: Call) -> Any:
    return await _suppressions(call).remove(call.principal.account_id, call.parse(SuppressionRemoveRequest))


ENDPOINTS = [
    Endpoint("/suppression/add", add, SuppressionAddRequest, SuppressionAddResult,
             "Suppress an address or a whole domain (with its subdomains) from every send; type manual"),
    Endpoint("/suppression/view", view, SuppressionViewRequest, SuppressionViewResult,
             "The account's suppressed addresses and domains, filtered, newest first, in pages"),
    Endpoint("/suppression/remove", remove, SuppressionRemoveRequest, SuppressionRemoveResult,
             "Remove an address's or domain's suppressions of the types in reasons; its mail flows at once"),
]  # fmt: skip


def register(registry: Table) -> None:
    for endpoint in ENDPOINTS:
        registry.add(endpoint)
