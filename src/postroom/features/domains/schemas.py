"""Request and response shapes of /domain/* (reference §7.4).

`requisition_ssl` is accepted and has no effect: Postroom provisions no certificates for tracking
hosts. Subaccounts do not exist yet, so `subaccounts[]` takes any ids and stores them as given.
An empty `subaccounts[]` means "none" (null, "" and [] read as absent, and absent is "none" here).
"""

from __future__ import annotations

from msgspec import Struct

from postroom.features.domains.records import DEFAULT_RETURNPATH, DEFAULT_TRACKING


class SubaccountAccess(Struct):
    subaccounts: list[str | int] = []
    future_subaccounts: bool = False


class DomainAddRequest(Struct, kw_only=True):
    domain: str
    tracking_subdomain: str = DEFAULT_TRACKING
    returnpath_subdomain: str = DEFAULT_RETURNPATH
    auto_verify: bool = True
    requisition_ssl: bool = True
    subaccount_access: SubaccountAccess | None = None


class DomainRequest(Struct):
    """/domain/verify and /domain/remove."""

    domain: str
    requisition_ssl: bool = True


class DomainViewRequest(Struct):
    domain: str = ""


class SubdomainRequest(Struct):
    """/domain/tracking and /domain/returnpath: rename that record's subdomain."""

    domain: str
    old_subdomain: str
    new_subdomain: str


class SubaccountAccessRequest(Struct):
    domain: str
    subaccounts: list[str | int] = []
    future_subaccounts: bool = False


class DomainInfo(Struct):
    """The domain and its DKIM and return-path records; `*_value` is what each record must hold."""

    fulldomain: str
    subdomain: str
    domain: str
    suffix: str
    dkim_selector: str
    dkim_verified: bool
    dkim_status: str
    dkim_value: str
    rpath_selector: str
    rpath_verified: bool
    rpath_status: str
    rpath_value: str
    setup_link: str


class Tracker(Struct):
    fulldomain: str
    subdomain: str
    domain: str
    suffix: str
    cname_verified: bool
    cname_status: str
    cname_value: str
    enabled: bool


class AccessResult(Struct):
    subaccounts: list[str]
    future_subaccounts: bool


class DnsRecord(Struct):
    """One record to publish, exactly: `record` is dkim, returnpath or tracking. Postroom's addition."""

    record: str
    type: str
    name: str
    value: str
    verified: bool
    status: str


class DomainEntry(Struct):
    domain: DomainInfo
    trackers: list[Tracker]
    subaccount_access: AccessResult
    dns_records: list[DnsRecord]


class ViewedDomainEntry(DomainEntry):
    from_master: bool = False


class DomainsResult(Struct):
    """The `data` of add, verify, tracking, returnpath and remove (which answers an empty list)."""

    domains: list[DomainEntry]


class DomainsViewResult(Struct):
    domains: list[ViewedDomainEntry]


class SubaccountAccessResult(Struct):
    domain: str
    subaccounts: list[str]
    future_subaccounts: bool
