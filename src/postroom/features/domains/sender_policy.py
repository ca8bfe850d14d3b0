"""The verified-sender rule: with `require_verified_sender` on, mail may only come from a domain the
account has verified (its DKIM record and return-path CNAME found in DNS by /domain/verify).

A SendPolicy (features/email/policy.py), so the API and SMTP doors apply it alike. Each account's
verified domains are cached for CACHE_SECONDS: a domain verified in another process counts within
that time, one verified through this process's service counts at once (`forget`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, select

from postroom.features.allowed_lists.service import AllowedListService
from postroom.features.domains.names import lookup_name
from postroom.storage.database import Database
from postroom.storage.tables import sender_domains

CACHE_SECONDS = 2.0
REFUSAL = "unable to verify sender address {sender}: {domain} is not a verified sender domain of this account"


def _verified(conn: Connection, account_id: str) -> frozenset[str]:
    rows = conn.execute(
        select(sender_domains.c.domain).where(
            sender_domains.c.account_id == account_id,
            sender_domains.c.dkim_verified.is_(True),
            sender_domains.c.rpath_verified.is_(True),
        )
    )
    return frozenset(r.domain for r in rows)


class VerifiedSenderPolicy:
    """With an allowed-senders whitelist or blacklist in force, that list decides instead (reference
    §7.6: it turns the sender-domain check off)."""

    def __init__(self, db: Database, lists: AllowedListService) -> None:
        self._db = db
        self._lists = lists
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def forget(self, account_id: str) -> None:
        self._cache.pop(account_id, None)

    async def verified_domains(self, account_id: str) -> frozenset[str]:
        hit = self._cache.get(account_id)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        domains = await self._db.read(lambda c: _verified(c, account_id))
        self._cache[account_id] = (time.monotonic(), domains)
        return domains

    async def sender_refusal(self, account_id: str, sender: str) -> str | None:
        if (await self._lists.snapshot(account_id)).restricts_senders:
            return None
        domain = lookup_name(sender.rpartition("@")[2])
        if domain in await self.verified_domains(account_id):
            return None
        return REFUSAL.format(sender=sender, domain=domain or "(none)")

    async def recipient_refusals(self, account_id: str, recipients: Sequence[str]) -> dict[str, str]:
        return {}
