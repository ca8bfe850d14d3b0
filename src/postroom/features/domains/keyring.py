"""The delivery workers' DKIM keys: every sender domain's key, parsed once and held in memory.

Signing matches the sender's domain exactly: mail from news.example.com is signed only when
news.example.com itself is added, never with example.com's key. An exact match is what an operator
publishes a record for, and needs no guess about where the registered domain begins. A domain signs
as soon as it is stored, verified or not: a receiver that cannot find the key treats the signature
as if it were absent (RFC 6376 §6.1.2), so signing early costs nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from postroom.features.domains import repo
from postroom.features.domains.names import lookup_name
from postroom.mail.dkim import DkimError, SigningKey, load_private_key
from postroom.storage.database import Database

log = logging.getLogger(__name__)


class DkimKeyring:
    """Every sender domain's key, parsed and held in memory by a delivery worker.

    `refresh()` asks the database for the key set's fingerprint (repo.signing_keys_version, one
    aggregate over a small table) and reads and parses every key only when it changed; the worker
    calls it every couple of seconds while it has mail to prepare, so a domain added by any door
    (another process's API, `postroom domains add`) signs mail within seconds, and a domain added
    through this process's API at once (DomainService refreshes the shared keyring). `lookup()` is a
    dictionary read, cheap enough for every message. It is the worker's `delivery.wire.Signer`.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._keys: dict[str, SigningKey] = {}
        self._version: tuple[Any, ...] | None = None

    async def refresh(self) -> None:
        self._apply(await self._db.read(lambda conn: _load_if_changed(conn, self._version)))

    def refresh_sync(self) -> None:
        self._apply(self._db.read_sync(lambda conn: _load_if_changed(conn, self._version)))

    def _apply(self, loaded: tuple[tuple[Any, ...], dict[str, SigningKey]] | None) -> None:
        if loaded is not None:
            self._version, self._keys = loaded

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


def _load_if_changed(
    conn: Connection, version: tuple[Any, ...] | None
) -> tuple[tuple[Any, ...], dict[str, SigningKey]] | None:
    """(fingerprint, keys) when the stored key set differs from `version`; None when it does not."""
    current = repo.signing_keys_version(conn)
    return None if current == version else (current, _load_keys(conn))


def _load_keys(conn: Connection) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    for domain, selector, pem in repo.signing_keys(conn):
        try:
            keys[domain] = SigningKey(domain, selector, load_private_key(pem))
        except DkimError as exc:  # one damaged row must not stop every other domain's signing
            log.error("the DKIM key of %s cannot be used: %s", domain, exc)
    return keys
