"""The rules of allowed senders and recipients, and the send policy that enforces them."""

from __future__ import annotations

from collections.abc import Sequence

from postroom.storage.database import Database


class AllowedListPolicy:
    """The SendPolicy of allowed senders and recipients (see features/email/policy.py)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def sender_refusal(self, account_id: str, sender: str) -> str | None:
        return None

    async def recipient_refusals(self, account_id: str, recipients: Sequence[str]) -> dict[str, str]:
        return {}
