"""Sender domains: add one with a new DKIM key, verify its DNS records, view, rename, share, remove.

A domain is unique across all accounts, since DNS publishes one key per selector and domain; every
other operation sees only the caller's account, so another account's domain is "not found". Each
domain gets its own RSA 2048 key under a selector naming the day it was made plus four random hex
digits, "postroom-20250114-3fa9": readable when keys are rotated, and never the name of an earlier
key whose old record a resolver may still cache. Names are checked and stored as `names` says.

Raises InvalidInput for a name or subdomain that is not one, Conflict for a domain already added
(by any account) and NotFound for a domain (or old subdomain) the account does not have.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio.to_thread
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postroom.clock import utcnow
from postroom.delivery.dns import RecordResolver
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.domains import present, repo, verify
from postroom.features.domains.keyring import DkimKeyring
from postroom.features.domains.names import MAX_DOMAIN, lookup_name, normalize_domain, normalize_subdomain
from postroom.features.domains.records import (
    DEFAULT_RETURNPATH,
    DEFAULT_TRACKING,
    NOT_VERIFIED,
    UNCHECKED,
    DomainRecord,
    Targets,
    check_columns,
    record_of,
)
from postroom.features.domains.schemas import (
    DomainAddRequest,
    DomainsResult,
    DomainsViewResult,
    SubaccountAccessRequest,
    SubaccountAccessResult,
    SubdomainRequest,
)
from postroom.mail.dkim import DkimKey, generate_key, record_name
from postroom.settings import Settings
from postroom.storage.database import Database

__all__ = ["DkimKeyring", "DomainRecord", "DomainService", "lookup_name", "normalize_domain"]
SELECTOR_PREFIX = "postroom"
LOCAL_TARGETS = Targets("localhost", "localhost")  # the default settings' host name
# (subdomain column, verified column, status column) of the two renamable records
SUBDOMAIN_COLUMNS = {
    "tracking": ("tracking_subdomain", "tracking_verified", "tracking_status"),
    "returnpath": ("returnpath_subdomain", "rpath_verified", "rpath_status"),
}


@dataclass(frozen=True)
class DomainOptions:
    """What /domain/add may choose besides the name, checked."""

    tracking_subdomain: str = DEFAULT_TRACKING
    returnpath_subdomain: str = DEFAULT_RETURNPATH
    subaccounts: tuple[str, ...] = ()
    future_subaccounts: bool = False

    def columns(self) -> dict[str, Any]:
        access = {"subaccounts": list(self.subaccounts), "future_subaccounts": self.future_subaccounts}
        return {
            "tracking_subdomain": self.tracking_subdomain,
            "returnpath_subdomain": self.returnpath_subdomain,
            "subaccount_access": access,
        }


@dataclass(frozen=True)
class NewDomain:
    """A checked domain name with its new selector and key, ready to store."""

    domain: str
    selector: str
    key: DkimKey
    options: DomainOptions = field(default_factory=DomainOptions)


def new_selector(now: datetime) -> str:
    return f"{SELECTOR_PREFIX}-{now:%Y%m%d}-{secrets.token_hex(2)}"


def new_domain(domain: str, options: DomainOptions | None = None) -> NewDomain:
    """Check the name and make its key: about 80 ms of CPU, so async callers run it on a thread."""
    name, selector = normalize_domain(domain), new_selector(utcnow())
    options = options or DomainOptions()
    _check_lengths(name, selector, options)
    return NewDomain(name, selector, generate_key(), options)


def _check_lengths(domain: str, selector: str, options: DomainOptions) -> None:
    """Every record name must fit in a DNS name (RFC 1035 §2.3.4), or it could never be published."""
    if len(record_name(selector, domain)) > MAX_DOMAIN:
        raise InvalidInput("domain", f"'{domain}' is too long to publish a DKIM record under it")
    for name in ("tracking_subdomain", "returnpath_subdomain"):
        if len(getattr(options, name)) + 1 + len(domain) > MAX_DOMAIN:
            raise InvalidInput(name, f"The field '{name}' makes a name longer than {MAX_DOMAIN} characters")


def options_of(req: DomainAddRequest) -> DomainOptions:
    """The request's choices, checked; raises InvalidInput."""
    tracking = normalize_subdomain(req.tracking_subdomain, "tracking_subdomain")
    returnpath = normalize_subdomain(req.returnpath_subdomain, "returnpath_subdomain")
    if tracking == returnpath:
        raise InvalidInput("returnpath_subdomain", "The return-path and tracking subdomains must differ")
    access = req.subaccount_access
    if access is None:
        return DomainOptions(tracking, returnpath)
    return DomainOptions(tracking, returnpath, subaccount_ids(access.subaccounts), access.future_subaccounts)


def subaccount_ids(values: list[str | int]) -> tuple[str, ...]:
    """Ids as given, as text, each once (subaccounts do not exist yet, so any id is taken)."""
    return tuple(dict.fromkeys(text for text in (str(v).strip() for v in values) if text))


def insert_domain(conn: Connection, account_id: str, new: NewDomain) -> DomainRecord:
    """Store the domain for the account; raises Conflict when any account already has it."""
    conflict = Conflict(f"The domain '{new.domain}' has already been added")
    if repo.domain_taken(conn, new.domain):
        raise conflict
    row: dict[str, Any] = {
        "account_id": account_id,
        "domain": new.domain,
        "dkim_selector": new.selector,
        "dkim_private_key": new.key.private_pem,
        "return_path_domain": "",
        "created_at": utcnow(),
        **new.options.columns(),
        **check_columns(UNCHECKED, UNCHECKED, UNCHECKED),
    }
    try:
        row["id"] = repo.insert_domain(conn, row)
    except IntegrityError:  # added by another process between the check and the insert
        raise conflict from None
    return record_of(row)


def list_domains(conn: Connection, account_id: str) -> list[DomainRecord]:
    """The account's domains, by name."""
    return [record_of(row) for row in repo.domains_of(conn, account_id)]


def _owned(conn: Connection, account_id: str, domain: str) -> dict[str, Any]:
    row = repo.domain_of(conn, account_id, domain)
    if row is None:
        raise NotFound(f"The sender domain '{domain}' does not exist")
    return row


def rename_subdomain(conn: Connection, account_id: str, which: str, req: SubdomainRequest) -> DomainRecord:
    """Give the tracking or return-path record a new subdomain; that record is then unverified."""
    domain = normalize_domain(req.domain)
    old = normalize_subdomain(req.old_subdomain, "old_subdomain")
    new = normalize_subdomain(req.new_subdomain, "new_subdomain")
    row = _owned(conn, account_id, domain)
    column, verified, status = SUBDOMAIN_COLUMNS[which]
    other = next(c[0] for k, c in SUBDOMAIN_COLUMNS.items() if k != which)
    if row[column] != old:
        raise NotFound(f"The {which} subdomain of '{domain}' is '{row[column]}', not '{old}'")
    if new == row[other]:
        raise InvalidInput("new_subdomain", "The return-path and tracking subdomains must differ")
    if len(new) + 1 + len(domain) > MAX_DOMAIN:
        raise InvalidInput(
            "new_subdomain", f"The field 'new_subdomain' makes a name over {MAX_DOMAIN} characters"
        )
    if new != old:
        values = {column: new, verified: False, status: NOT_VERIFIED}
        repo.update_domain(conn, row["id"], values)
        row.update(values)
    return record_of(row)


def set_access(conn: Connection, account_id: str, req: SubaccountAccessRequest) -> DomainRecord:
    row = _owned(conn, account_id, normalize_domain(req.domain))
    access = {
        "subaccounts": list(subaccount_ids(req.subaccounts)),
        "future_subaccounts": req.future_subaccounts,
    }
    repo.update_domain(conn, row["id"], {"subaccount_access": access})
    return record_of({**row, "subaccount_access": access})


def remove_domain(conn: Connection, account_id: str, domain: str) -> None:
    if not repo.delete_domain(conn, account_id, domain):
        raise NotFound(f"The sender domain '{domain}' does not exist")


class DomainService:
    """Sender domains for the API, the dashboard and async callers (the CLI uses the functions).

    `keyring`, when given, is refreshed after an add or remove so this process signs at once;
    delivery workers check theirs every couple of seconds anyway (a key added by another process).
    """

    def __init__(
        self,
        db: Database,
        keyring: DkimKeyring | None = None,
        *,
        resolver: RecordResolver | None = None,
        targets: Targets = LOCAL_TARGETS,
        site_url: str = "",
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._resolver = resolver
        self._targets = targets
        self._site_url = site_url

    async def add_domain(
        self, account_id: str, domain: str, options: DomainOptions | None = None
    ) -> DomainRecord:
        """Add a domain with a new DKIM key (its records unverified yet)."""
        normalize_domain(domain)  # fail fast, before making a key
        new = await anyio.to_thread.run_sync(new_domain, domain, options)
        record = await self._db.write(lambda conn: insert_domain(conn, account_id, new))
        await self._refresh()
        return record

    async def list_domains(self, account_id: str) -> list[DomainRecord]:
        return await self._db.read(lambda conn: list_domains(conn, account_id))

    async def add(self, account_id: str, req: DomainAddRequest) -> DomainsResult:
        """/domain/add: store the domain, then (unless auto_verify is off) check its records at once."""
        normalize_domain(req.domain)  # the name is the first field to report
        record = await self.add_domain(account_id, req.domain, options_of(req))
        if req.auto_verify:
            record = await self._verify(record)
        return self._one(record)

    async def verify(self, account_id: str, domain: str) -> DomainsResult:
        name = normalize_domain(domain)
        record = record_of(await self._db.read(lambda conn: _owned(conn, account_id, name)))
        return self._one(await self._verify(record))

    async def view(self, account_id: str, domain: str = "") -> DomainsViewResult:
        """One domain (when named) or all of the account's."""
        if domain:
            name = normalize_domain(domain)
            records = [record_of(await self._db.read(lambda conn: _owned(conn, account_id, name)))]
        else:
            records = await self.list_domains(account_id)
        return DomainsViewResult(present.viewed(records, self._targets, self._site_url))

    async def remove(self, account_id: str, domain: str) -> DomainsResult:
        """Mail already queued is still delivered; from the next keyring refresh it goes unsigned."""
        name = normalize_domain(domain)
        await self._db.write(lambda conn: remove_domain(conn, account_id, name))
        await self._refresh()
        return DomainsResult([])

    async def rename(self, account_id: str, which: str, req: SubdomainRequest) -> DomainsResult:
        """/domain/tracking (`which` "tracking") and /domain/returnpath ("returnpath")."""
        return self._one(await self._db.write(lambda conn: rename_subdomain(conn, account_id, which, req)))

    async def set_subaccount_access(
        self, account_id: str, req: SubaccountAccessRequest
    ) -> SubaccountAccessResult:
        return present.access_result(await self._db.write(lambda conn: set_access(conn, account_id, req)))

    async def _verify(self, record: DomainRecord) -> DomainRecord:
        if self._resolver is None:
            raise RuntimeError("DomainService was built without a resolver; it cannot verify")
        return await verify.verify(self._db, self._resolver, record, self._targets)

    def _one(self, record: DomainRecord) -> DomainsResult:
        return DomainsResult([present.entry(record, self._targets, self._site_url)])

    async def _refresh(self) -> None:
        if self._keyring is not None:
            await self._keyring.refresh()


def build_domain_service(
    settings: Settings, db: Database, keyring: DkimKeyring | None = None
) -> DomainService:
    """The service as the API uses it: delivery's nameservers, CNAME targets and site URL from settings."""
    return DomainService(
        db,
        keyring,
        resolver=verify.verify_resolver(settings),
        targets=verify.targets_of(settings),
        site_url=settings.public_base,
    )
