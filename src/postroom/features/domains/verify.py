"""Checking a sender domain's three DNS records: now (/domain/add, /domain/verify) and every 7 minutes
(the scheduler's domain_reverify task).

- DKIM: a TXT record at `<selector>._domainkey.<domain>` whose p= tag is the domain's public key
  (whitespace inside the tag ignored, RFC 6376 §3.6.1); a CNAME to such a record counts too, since
  the resolver follows it.
- Return path: a CNAME at `<returnpath_subdomain>.<domain>` to Postroom's return-path domain.
- Tracking: a CNAME at `<tracking_subdomain>.<domain>` to Postroom's host name.

A check's status is "" when the record is right, else a sentence saying what was found instead, or
the DNS error. Lookups go to the nameservers delivery uses (settings.dns_nameservers), uncached.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

import dns.exception

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.delivery.dns import DnsError, DnsResolver, RecordResolver
from postroom.features.domains import repo
from postroom.features.domains.records import Check, DomainRecord, Targets, check_columns, record_of
from postroom.mail.dkim import DkimError
from postroom.settings import Settings
from postroom.storage.database import Database

log = logging.getLogger(__name__)
VERIFY_TIMEOUT = 5.0  # seconds for one lookup: a person is waiting for /domain/verify
REVERIFY_INTERVAL = timedelta(minutes=7)  # SMTP2GO re-checks pending domains "every 7 minutes"
VERIFIED = Check(True, "")


class CheckResolver:
    """The resolver checks use: delivery's nameservers, no cache (a record just published must show).

    The dnspython resolver is made at the first lookup, so that a host without resolv.conf fails
    that lookup (a readable status) rather than the start of the service.
    """

    def __init__(self, nameservers: list[tuple[str, int]]) -> None:
        self._nameservers = nameservers
        self._resolver: DnsResolver | None = None

    async def resolve_txt(self, name: str) -> list[str]:
        return await self._made().resolve_txt(name)

    async def resolve_cname(self, name: str) -> str:
        return await self._made().resolve_cname(name)

    def _made(self) -> DnsResolver:
        if self._resolver is None:
            try:
                self._resolver = DnsResolver(self._nameservers, timeout=VERIFY_TIMEOUT, cache=False)
            except dns.exception.DNSException as exc:
                raise DnsError(f"no DNS resolver is configured ({exc})", permanent=False) from None
        return self._resolver


def verify_resolver(settings: Settings) -> CheckResolver:
    return CheckResolver(settings.nameservers)


def targets_of(settings: Settings) -> Targets:
    """Where the CNAMEs must point: the return-path domain (or the host name) and the host name."""
    return Targets(settings.effective_return_path_domain.lower(), settings.hostname.lower())


def dkim_key_of(txt: str) -> str | None:
    """The p= tag of a DKIM key record (RFC 6376 §3.6.1) without whitespace; None when it has none."""
    for tag in txt.split(";"):
        name, sep, value = tag.partition("=")
        if sep and name.strip() == "p":
            return "".join(value.split())
    return None


async def check_dkim(resolver: RecordResolver, name: str, public_b64: str) -> Check:
    try:
        records = await resolver.resolve_txt(name)
    except DnsError as exc:
        return Check(False, exc.message)
    keys = [dkim_key_of(txt) for txt in records]
    if public_b64 in keys:
        return VERIFIED
    if not records:
        return Check(False, f"no TXT record found at {name}")
    if all(key is None for key in keys):
        return Check(False, f"the TXT record at {name} is not a DKIM key record (it has no p= tag)")
    return Check(False, f"the DKIM record at {name} holds another key than this domain's (p= differs)")


async def check_cname(resolver: RecordResolver, name: str, expected: str) -> Check:
    try:
        target = await resolver.resolve_cname(name)
    except DnsError as exc:
        return Check(False, exc.message)
    if not target:
        return Check(False, f"no CNAME record found at {name}")
    if target != expected:
        return Check(False, f"CNAME points to {target}, expected {expected}")
    return VERIFIED


async def check_records(
    resolver: RecordResolver, record: DomainRecord, targets: Targets
) -> tuple[Check, Check, Check]:
    """(DKIM, return path, tracking), looked up at once."""
    dkim, rpath, tracking = await asyncio.gather(
        check_dkim(resolver, record.dkim_record_name, record.dkim_public_key),
        check_cname(resolver, record.rpath_name, targets.return_path),
        check_cname(resolver, record.tracking_name, targets.tracking),
    )
    return dkim, rpath, tracking


async def verify(
    db: Database,
    resolver: RecordResolver,
    record: DomainRecord,
    targets: Targets,
    clock: Clock = SYSTEM_CLOCK,
) -> DomainRecord:
    """Check the domain's records and store the outcome with the time; the domain as it now is.

    Nothing is stored when a subdomain was renamed (or the domain removed) while the lookups ran:
    those results describe records no longer asked for.
    """
    dkim, rpath, tracking = await check_records(resolver, record, targets)
    now = clock.now()
    values = {**check_columns(dkim, rpath, tracking), "verified_at": now}
    subdomains = (record.tracking_subdomain, record.returnpath_subdomain)
    if not await db.write(lambda conn: repo.store_checks(conn, record.id, subdomains, values)):
        return record
    return replace(record, dkim=dkim, rpath=rpath, tracking=tracking, verified_at=now)


async def reverify_due(
    db: Database,
    resolver: RecordResolver,
    older_than: timedelta,
    targets: Targets,
    clock: Clock = SYSTEM_CLOCK,
) -> int:
    """Check each domain with a record not yet verified, last checked over `older_than` ago; how many."""
    cutoff = clock.now() - older_than
    rows = await db.read(lambda conn: repo.due_for_verification(conn, cutoff))
    checked = 0
    for row in rows:
        try:
            record = record_of(row)
        except DkimError as exc:  # a damaged key: its record cannot be checked, the others still can
            log.error("cannot verify %s: %s", row["domain"], exc)
            continue
        await verify(db, resolver, record, targets, clock)
        checked += 1
    return checked
