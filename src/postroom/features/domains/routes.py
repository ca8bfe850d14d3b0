"""/domain/*: decode, one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.domains.schemas import (
    DomainAddRequest,
    DomainRequest,
    DomainsResult,
    DomainsViewResult,
    DomainViewRequest,
    SubaccountAccessRequest,
    SubaccountAccessResult,
    SubdomainRequest,
)
from postroom.features.domains.service import DomainService
from postroom.features.endpoints import Call, Endpoint, Table


def _domains(call: Call) -> DomainService:
    return call.services.domains


async def add(call: Call) -> Any:
    return await _domains(call).add(call.principal.account_id, call.parse(DomainAddRequest))


async def verify(call: Call) -> Any:
    return await _domains(call).verify(call.principal.account_id, call.parse(DomainRequest).domain)


async def view(call: Call) -> Any:
    return await _domains(call).view(call.principal.account_id, call.parse(DomainViewRequest).domain)


async def remove(call: Call) -> Any:
    return await _domains(call).remove(call.principal.account_id, call.parse(DomainRequest).domain)


async def tracking(call: Call) -> Any:
    return await _domains(call).rename(call.principal.account_id, "tracking", call.parse(SubdomainRequest))


async def returnpath(call: Call) -> Any:
    return await _domains(call).rename(call.principal.account_id, "returnpath", call.parse(SubdomainRequest))


async def subaccount_access(call: Call) -> Any:
    req = call.parse(SubaccountAccessRequest)
    return await _domains(call).set_subaccount_access(call.principal.account_id, req)


ENDPOINTS = [
    Endpoint("/domain/add", add, DomainAddRequest, DomainsResult,
             "Add a sender domain with a new DKIM key; verifies its DNS records unless auto_verify is false"),
    Endpoint("/domain/verify", verify, DomainRequest, DomainsResult,
             "Check the domain's DKIM, return-path and tracking records now"),
    Endpoint("/domain/view", view, DomainViewRequest, DomainsViewResult,
             "One sender domain, or all of the account's, with the DNS records to publish"),
    Endpoint("/domain/remove", remove, DomainRequest, DomainsResult, "Remove a sender domain"),
    Endpoint("/domain/tracking", tracking, SubdomainRequest, DomainsResult,
             "Change the tracking subdomain (its CNAME is then unverified)"),
    Endpoint("/domain/returnpath", returnpath, SubdomainRequest, DomainsResult,
             "Change the return-path subdomain (its CNAME is then unverified)"),
    Endpoint("/domain/subaccount_access", subaccount_access, SubaccountAccessRequest, SubaccountAccessResult,
             "Set which subaccounts may send from the domain"),
]  # fmt: skip


def register(registry: Table) -> None:
    for endpoint in ENDPOINTS:
        registry.add(endpoint)
