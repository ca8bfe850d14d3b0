"""Sender domains: adding a domain with a new DKIM key, listing them, and the workers' keyring.

A domain is stored lower-case in IDNA A-label form ("bücher.example" → "xn--bcher-kva.example",
by the standard library's IDNA 2003 codec) and is unique across all accounts, since DNS publishes
one key per selector and domain. Each gets its own RSA 2048 key under a selector naming the day it
was made plus four random hex digits, "postroom-20250114-3fa9": readable when keys are rotated, and
never the name of an earlier key whose old record a resolver may still cache.

Signing matches the sender's domain exactly: mail from news.example.com is signed only when
news.example.com itself is added, never with example.com's key. An exact match is what an operator
publishes a record for, and needs no guess about where the registered domain begins.

Raises InvalidInput for a name that is not a domain and Conflict for a domain already added.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postroom.clock import utcnow
from postroom.errors import Conflict, InvalidInput
from postroom.features.domains import repo
from postroom.mail.dkim import (
    DkimError,
    DkimKey,
    SigningKey,
    dns_record_value,
    generate_key,
    load_private_key,
    public_b64_of,
    record_name,
)
from postroom.storage.database import Database

log = logging.getLogger(__name__)
SELECTOR_PREFIX = "postroom"
MAX_DOMAIN = 253  # RFC 1035 §2.3.4, in presentation form without the final dot
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")  # RFC 1123 §2.1 host name label


@dataclass(frozen=True)
class DomainRecord:
    """A sender domain as callers see it: never its private key."""

    domain: str
    account_id: str
    dkim_selector: str
    dkim_public_key: str  # base64 SubjectPublicKeyInfo, the p= tag
    return_path_domain: str
    created_at: datetime

    @property
    def dkim_record_name(self) -> str:
        return record_name(self.dkim_selector, self.domain)

    @property
    def dkim_record_value(self) -> str:
        return dns_record_value(self.dkim_public_key)


@dataclass(frozen=True)
class NewDomain:
    """A checked domain name with its new selector and key, ready to store."""

    domain: str
    selector: str
    key: DkimKey


def normalize_domain(value: str) -> str:
    """The stored form of a domain name; raises InvalidInput when it is not one."""
    name = value.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    invalid = InvalidInput("domain", f"'{value}' is not a valid domain name")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise invalid from None
    labels = name.split(".")
    if len(name) > MAX_DOMAIN or len(labels) < 2 or labels[-1].isdigit():  # isdigit: no IPv4 address
        raise invalid
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise invalid
    return name


def new_selector(now: datetime) -> str:
    return f"{SELECTOR_PREFIX}-{now:%Y%m%d}-{secrets.token_hex(2)}"


def new_domain(domain: str) -> NewDomain:
    """Check the name and make its key: about 80 ms of CPU, so async callers run it on a thread."""
    return NewDomain(normalize_domain(domain), new_selector(utcnow()), generate_key())


def insert_domain(conn: Connection, account_id: str, new: NewDomain) -> DomainRecord:
    """Store the domain for the account; raises Conflict when any account already has it."""
    conflict = Conflict(f"The domain '{new.domain}' has already been added")
    if repo.domain_taken(conn, new.domain):
        raise conflict
    row = {
        "account_id": account_id,
        "domain": new.domain,
        "dkim_selector": new.selector,
        "dkim_private_key": new.key.private_pem,
        "return_path_domain": "",
        "created_at": utcnow(),
    }
    try:
        repo.insert_domain(conn, row)
    except IntegrityError:  # added by another process between the check and the insert
        raise conflict from None
    return _record(row)


def list_domains(conn: Connection, account_id: str) -> list[DomainRecord]:
    """The account's domains, by name."""
    return [_record(row) for row in repo.domains_of(conn, account_id)]


def _record(row: dict[str, object]) -> DomainRecord:
    created_at = row["created_at"]
    assert isinstance(created_at, datetime)
    return DomainRecord(
        domain=str(row["domain"]),
        account_id=str(row["account_id"]),
        dkim_selector=str(row["dkim_selector"]),
        dkim_public_key=public_b64_of(load_private_key(str(row["dkim_private_key"]))),
        return_path_domain=str(row["return_path_domain"]),
        created_at=created_at,
    )


class DomainService:
    """Sender domains for the API, the dashboard and async callers (the CLI uses the functions)."""

    def __init__(self, db: Database, keyring: DkimKeyring | None = None) -> None:
        self._db = db
        self._keyring = keyring

    async def add_domain(self, account_id: str, domain: str) -> DomainRecord:
        """Add a domain with a new DKIM key; this process's keyring, if given, signs with it at once."""
        normalize_domain(domain)  # fail fast, before making a key
        new = await anyio.to_thread.run_sync(new_domain, domain)
        record = await self._db.write(lambda conn: insert_domain(conn, account_id, new))
        if self._keyring is not None:
            await self._keyring.refresh()
        return record

    async def list_domains(self, account_id: str) -> list[DomainRecord]:
        return await self._db.read(lambda conn: list_domains(conn, account_id))


def lookup_name(domain: str) -> str:
    """A sender's domain in stored form for a lookup, or "" when it cannot be one."""
    name = domain.strip().strip("[]<>").lower()
    name = name[:-1] if name.endswith(".") else name
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


class DkimKeyring:
    """Every sender domain's key, parsed and held in memory by a delivery worker.

    `refresh()` reads all keys (the worker calls it at start and every minute); `lookup()` is a
    dictionary read, cheap enough for every message. It is the worker's `delivery.wire.Signer`.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._keys: dict[str, SigningKey] = {}

    async def refresh(self) -> None:
        self._keys = await self._db.read(_load_keys)

    def refresh_sync(self) -> None:
        self._keys = self._db.read_sync(_load_keys)

    def lookup(self, domain: str) -> SigningKey | None:
        """The key of exactly this domain (no parent-domain fallback), or None."""
        return self._keys.get(domain) or self._keys.get(lookup_name(domain))

    def signing_key_for(self, address: str) -> SigningKey | None:
        """The key for a sender: an address (its part after the last "@") or a bare domain."""
        return self.lookup(address.rpartition("@")[2])

    def sign(self, data: bytes, sender_domain: str) -> bytes:
        """The message DKIM-signed for the sender's domain; unchanged without a key or when unsignable."""
        key = self.lookup(sender_domain)
        if key is None:
            return data
        try:
            return key.sign(data)
        except DkimError as exc:
            log.warning("sending unsigned: %s", exc)
            return data


def _load_keys(conn: Connection) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    for domain, selector, pem in repo.signing_keys(conn):
        try:
            keys[domain] = SigningKey(domain, selector, load_private_key(pem))
        except DkimError as exc:  # one damaged row must not stop every other domain's signing
            log.error("the DKIM key of %s cannot be used: %s", domain, exc)
    return keys
