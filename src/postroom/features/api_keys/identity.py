"""Who a key is: its hash, its 16-character identity, and the Principal a request runs as."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from postroom.features.api_keys.permissions import allows


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's identity, its account and what it may call."""

    key_id: str
    account_id: str
    account_name: str
    endpoints: tuple[str, ...]
    sandbox: bool = False  # status `sandbox`: what it sends is captured, never delivered
    ratelimit: tuple[int, float] | None = None  # (messages, per seconds): its custom sending limit
    parent_id: str | None = None  # the master account of a subaccount (None: the account is a master)
    acting_for: str | None = None  # set when a master key acts for its subaccount `account_id`
    ip_pool: int | None = None  # the key's own dedicated IP pool; None: its account's, else the default
    audit_email: str | None = None  # gets a hidden copy of every message sent with the key

    @property
    def is_master(self) -> bool:
        return self.parent_id is None

    @property
    def username(self) -> str:
        return self.key_id

    def may_call(self, path: str) -> bool:
        return allows(self.endpoints, path)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.upper().encode()).hexdigest()


def key_id_of(key: str) -> str:
    return key[:16]
