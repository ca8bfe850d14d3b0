"""A DomainRecord as the API shows it: SMTP2GO's domain object (reference §7.4) plus `dns_records`.

Where SMTP2GO's values name its own hosts, Postroom's say what the record must hold: `dkim_value`
is the whole TXT value (Postroom publishes keys as TXT records, not as CNAMEs to a key it hosts),
`rpath_value` and `cname_value` are the CNAME targets. A tracker is `enabled` once its CNAME is
verified, which is when the tracking host may be used in links.
"""

from __future__ import annotations

from postroom.features.domains.names import split_domain
from postroom.features.domains.records import DomainRecord, Targets
from postroom.features.domains.schemas import (
    AccessResult,
    DnsRecord,
    DomainEntry,
    DomainInfo,
    SubaccountAccessResult,
    Tracker,
    ViewedDomainEntry,
)

UNAVAILABLE = "unavailable"  # setup_link when more than one domain is listed, as SMTP2GO answers
SETUP_PATH = "/domains/{domain}"  # the dashboard page of one domain, under the site's URL


def info(record: DomainRecord, targets: Targets, setup_link: str) -> DomainInfo:
    subdomain, domain, suffix = split_domain(record.domain)
    return DomainInfo(
        fulldomain=record.domain,
        subdomain=subdomain,
        domain=domain,
        suffix=suffix,
        dkim_selector=record.dkim_selector,
        dkim_verified=record.dkim.verified,
        dkim_status=record.dkim.status,
        dkim_value=record.dkim_record_value,
        rpath_selector=record.returnpath_subdomain,
        rpath_verified=record.rpath.verified,
        rpath_status=record.rpath.status,
        rpath_value=targets.return_path,
        setup_link=setup_link,
    )


def tracker(record: DomainRecord, targets: Targets) -> Tracker:
    subdomain, domain, suffix = split_domain(record.tracking_name)
    check = record.tracking
    return Tracker(
        fulldomain=record.tracking_name,
        subdomain=subdomain,
        domain=domain,
        suffix=suffix,
        cname_verified=check.verified,
        cname_status=check.status,
        cname_value=targets.tracking,
        enabled=check.verified,
    )


def dns_records(record: DomainRecord, targets: Targets) -> list[DnsRecord]:
    """The three records to publish, each with its last check."""
    wanted = [
        ("dkim", "TXT", record.dkim_record_name, record.dkim_record_value, record.dkim),
        ("returnpath", "CNAME", record.rpath_name, targets.return_path, record.rpath),
        ("tracking", "CNAME", record.tracking_name, targets.tracking, record.tracking),
    ]
    return [
        DnsRecord(kind, rdtype, name, value, c.verified, c.status) for kind, rdtype, name, value, c in wanted
    ]


def access(record: DomainRecord) -> AccessResult:
    return AccessResult(list(record.subaccounts), record.future_subaccounts)


def setup_link(site_url: str, record: DomainRecord) -> str:
    return site_url.rstrip("/") + SETUP_PATH.format(domain=record.domain)


def entry(record: DomainRecord, targets: Targets, site_url: str) -> DomainEntry:
    """One domain as add, verify, tracking and returnpath show it (alone, so with its setup link)."""
    return DomainEntry(
        info(record, targets, setup_link(site_url, record)),
        [tracker(record, targets)],
        access(record),
        dns_records(record, targets),
    )


def viewed(records: list[DomainRecord], targets: Targets, site_url: str) -> list[ViewedDomainEntry]:
    """/domain/view's list: setup_link only when one domain is listed, else "unavailable"."""
    single = len(records) == 1
    return [
        ViewedDomainEntry(
            info(r, targets, setup_link(site_url, r) if single else UNAVAILABLE),
            [tracker(r, targets)],
            access(r),
            dns_records(r, targets),
            from_master=False,
        )
        for r in records
    ]


def access_result(record: DomainRecord) -> SubaccountAccessResult:
    return SubaccountAccessResult(record.domain, list(record.subaccounts), record.future_subaccounts)
