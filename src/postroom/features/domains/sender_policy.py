"""The verified-sender rule: with `require_verified_sender` on, mail may only come from a domain the
account has verified (its DKIM record and return-path CNAME found in DNS by /domain/verify), or from
an address the account has verified as a single sender email (its owner opened the link Postroom
mailed it, features/single_senders).

A SendPolicy (features/email/policy.py), so the API and SMTP doors apply it alike. Each account's
verified domains and single senders are cached together for CACHE_SECONDS. A sender the cached view
would refuse is checked once more against the database before it is refused, so a domain or address
verified moments ago (in any process) counts at once, while a removed one may still pass for up to
CACHE_SECONDS; `forget` drops an account's view at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from postroom.cache import Cache
from postroom.features.allowed_lists.service import AllowedListService
from postroom.features.domains import repo as domains_repo
from postroom.features.domains.names import lookup_name
from postroom.features.single_senders import repo as single_senders_repo
from postroom.storage.database import Database

CACHE_SECONDS = 2.0
WARNING = (
    "the sender {sender} is not from a verified sender domain of this account ({domain}) nor a verified"
    " single sender email; it was accepted because require_verified_sender is off"
)
REFUSAL = (
    "unable to verify sender address {sender}: {domain} is not a verified sender domain of this account,"
    " nor is the address a verified single sender email"
)


@dataclass(frozen=True)
class Verified:
    """What an account may send from: its verified domains and single sender addresses (lower case)."""

    domains: frozenset[str]
    senders: frozenset[str]

    def allows(self, sender: str, domain: str) -> bool:
        return domain in self.domains or sender.lower() in self.senders


def _verified(conn: Connection, account_id: str) -> Verified:
    return Verified(
        domains_repo.verified_domains(conn, account_id),
        single_senders_repo.verified_addresses(conn, account_id),
    )


class VerifiedSenderPolicy:
    """With an allowed-senders whitelist or blacklist in force, that list decides instead (reference
    §7.6: it turns the sender-domain check off)."""

    def __init__(self, db: Database, lists: AllowedListService) -> None:
        self._db = db
        self._lists = lists
        # single flight: when an account's view expires under load, its senders wait for one read
        self._cache: Cache[str, Verified] = Cache(self._load, fresh=CACHE_SECONDS, name="verified senders")

    def forget(self, account_id: str) -> None:
        self._cache.forget(account_id)

    async def _load(self, account_id: str) -> Verified:
        return await self._db.read(lambda c: _verified(c, account_id))

    async def verified(self, account_id: str, fresh: bool = False) -> Verified:
        """The account's view, from the cache unless it is older than CACHE_SECONDS or `fresh`."""
        if fresh:
            self._cache.forget(account_id)
        return await self._cache.get(account_id)

    async def verified_domains(self, account_id: str) -> frozenset[str]:
        return (await self.verified(account_id)).domains

    async def sender_refusal(self, account_id: str, sender: str) -> str | None:
        if (await self._lists.snapshot(account_id)).restricts_senders:
            return None
        domain = lookup_name(sender.rpartition("@")[2])
        if (await self.verified(account_id)).allows(sender, domain):
            return None
        if (await self.verified(account_id, fresh=True)).allows(sender, domain):
            return None  # verified since the view was cached
        return REFUSAL.format(sender=sender, domain=domain or "(none)")

    async def recipient_refusals(self, account_id: str, recipients: Sequence[str]) -> dict[str, str]:
        return {}

    async def sender_warning(self, account_id: str, sender: str) -> str | None:
        """With the rule off: what the message records when the rule would have refused it (from the
        cached view only: a warning is worth no extra database read)."""
        if (await self._lists.snapshot(account_id)).restricts_senders:
            return None
        domain = lookup_name(sender.rpartition("@")[2])
        if (await self.verified(account_id)).allows(sender, domain):
            return None
        return WARNING.format(sender=sender, domain=domain or "(none)")
