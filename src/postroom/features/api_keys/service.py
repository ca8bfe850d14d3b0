"""API keys: the bootstrap key, creating keys, and authenticating a request's key.

Keys are stored only as a SHA-256 hash; a key's identity (and its `username` in activity) is its
first 16 characters. Raises MalformedKey for a missing or malformed key and InvalidKey for an
unknown or blocked one. Managing keys (/api_keys/*) is features.api_keys.admin.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from postroom.cache import Cache
from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.errors import InvalidKey, MalformedKey
from postroom.features.api_keys import repo
from postroom.features.api_keys.admin import KeyAdmin
from postroom.features.api_keys.identity import Principal as Principal
from postroom.features.api_keys.identity import hash_key as hash_key
from postroom.features.api_keys.identity import key_id_of as key_id_of
from postroom.features.api_keys.limits import Limiter
from postroom.features.api_keys.permissions import ALL, normalize_grant
from postroom.features.api_keys.profile import sending_settings
from postroom.ids import new_account_id, new_api_key
from postroom.settings import API_KEY_PATTERN
from postroom.storage.database import Database

log = logging.getLogger(__name__)
MASTER_ACCOUNT_NAME = "Master account"
BOOTSTRAP_STATE = "bootstrap_key_id"
# A cached answer is fresh for CACHE_SECONDS; for STALE_SECONDS more it is still served while one
# background read refreshes it; older than that, the request waits for the read. So a change made
# by another process (a key blocked, its endpoints cut) takes effect there within 10 seconds; the
# process that made the change forgets the key at once.
CACHE_SECONDS = 5.0
STALE_SECONDS = 5.0


@dataclass(frozen=True)
class Bootstrap:
    """What start-up did about the bootstrap key; `shown_key` is set only when it must be printed."""

    key_id: str
    shown_key: str | None


def _now() -> datetime:
    return SYSTEM_CLOCK.now()


def create_key(conn: Connection, account_id: str, endpoints: list[str], description: str = "") -> str:
    """Store a new key for the account and return the full key (the only time it is known)."""
    key = new_api_key()
    _store_key(conn, key, account_id, endpoints, description)
    return key


def _store_key(conn: Connection, key: str, account_id: str, endpoints: list[str], description: str) -> None:
    grants = [normalize_grant(g) for g in endpoints] or [ALL]
    repo.insert_key(
        conn,
        {
            "id": key_id_of(key),
            "account_id": account_id,
            "key_hash": hash_key(key),
            "description": description,
            "endpoints": grants,
            "status": "allowed",
            "created_at": _now(),
        },
    )


def ensure_master_account(conn: Connection) -> str:
    account_id = repo.master_account_id(conn)
    if account_id is None:
        account_id = new_account_id()
        repo.insert_account(conn, account_id, MASTER_ACCOUNT_NAME, _now())
    return account_id


def bootstrap(conn: Connection, fixed_key: str = "", reset: bool = False) -> Bootstrap:
    """Make sure the master account and a full-permission key exist.

    A generated key is returned for printing once; a key given in settings is stored but never
    echoed; an existing bootstrap key is left alone unless `reset` asks for a new secret.
    """
    account_id = ensure_master_account(conn)
    existing = repo.get_state(conn, BOOTSTRAP_STATE)
    if fixed_key:
        if repo.key_by_hash(conn, hash_key(fixed_key)) is None:
            _store_key(conn, fixed_key, account_id, [ALL], "bootstrap key (from settings)")
        if existing is None:
            repo.set_state(conn, BOOTSTRAP_STATE, key_id_of(fixed_key))
        return Bootstrap(key_id_of(fixed_key), None)
    if existing is not None and not reset:
        return Bootstrap(existing, None)
    key = new_api_key()
    if existing is not None and repo.key_by_id(conn, existing) is not None:
        repo.replace_key_hash(conn, existing, hash_key(key))
        return Bootstrap(existing, key)
    _store_key(conn, key, account_id, [ALL], "bootstrap key")
    if existing is None:
        repo.set_state(conn, BOOTSTRAP_STATE, key_id_of(key))
    else:  # the bootstrap key was removed through /api_keys/remove: a reset makes a new one
        repo.replace_state(conn, BOOTSTRAP_STATE, key_id_of(key))
    return Bootstrap(key_id_of(key), key)


class KeyAuthenticator:
    """Resolves keys to principals through the lookup cache (postroom.cache); holds the admin and limits.

    An answer is fresh for CACHE_SECONDS; for STALE_SECONDS after that the old answer is still
    served while one background read refreshes it, and concurrent misses share one read, so a cache
    expiry under load never stalls every request at once.
    """

    def __init__(self, db: Database, pool_ids: Collection[int] = (), clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._principals: Cache[str, Principal | None] = Cache(
            self._load, fresh=CACHE_SECONDS, stale=STALE_SECONDS, clock=clock, name="API key"
        )
        self.admin = KeyAdmin(db, self.forget, pool_ids)
        self.limits = Limiter()

    async def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise MalformedKey("No API key was provided")
        if not API_KEY_PATTERN.fullmatch(key):
            raise MalformedKey("The API key is malformed: expected 'api-' followed by 32 characters")
        principal = await self._principals.get(hash_key(key))
        if principal is None:
            raise InvalidKey("The API key is not valid")
        return principal

    def forget(self, digest: str | None = None) -> None:
        """Drop the cached answer for one key hash, or every answer (after keys change in this process)."""
        self._principals.forget(digest)

    async def _load(self, digest: str) -> Principal | None:
        return await self._db.read(lambda conn: _load_principal(conn, digest))

    async def by_key_id(self, key_id: str) -> Principal | None:
        """The principal of a key given its 16-character identity (used by web sessions)."""
        return await self._db.read(
            lambda conn: _principal_of(_with_account(conn, repo.key_by_id(conn, key_id)))
        )


def _load_principal(conn: Connection, digest: str) -> Principal | None:
    return _principal_of(_with_account(conn, repo.key_by_hash(conn, digest)))


def _with_account(conn: Connection, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The key row with its account's parent and state (a closed subaccount's keys are refused)."""
    if row is None:
        return None
    standing = repo.account_standing(conn, str(row["account_id"]))
    if standing is None:
        return None
    parent_id, state = standing
    return {**row, "account_parent_id": parent_id, "account_state": state}


def _principal_of(row: dict[str, Any] | None) -> Principal | None:
    """The key's principal; None for a blocked key or a key of a closed subaccount (both refused)."""
    if row is None or row["status"] == "blocked" or row.get("account_state") == "closed":
        return None
    return Principal(
        key_id=str(row["id"]),
        account_id=str(row["account_id"]),
        account_name=str(row["account_name"]),
        endpoints=tuple(str(e) for e in row["endpoints"]),
        sandbox=row["status"] == "sandbox",
        parent_id=row.get("account_parent_id"),
        **sending_settings(row),
    )
