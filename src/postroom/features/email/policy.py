"""Send policy: the account rules a message must pass on every door (API and SMTP) before it is stored.

Each feature that restricts sending (allowed senders and recipients, verified sender domains, …)
provides a SendPolicy; `Policies` asks them all. A refusal is a readable sentence: the API returns it
in `failures` inside a 200 (decisions.md), the SMTP server in a 550 5.7.1 reply at MAIL FROM or RCPT TO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class SendPolicy(Protocol):
    async def sender_refusal(self, account_id: str, sender: str) -> str | None:
        """Why this account may not send from this address, or None."""
        ...

    async def recipient_refusals(self, account_id: str, recipients: Sequence[str]) -> dict[str, str]:
        """The recipients this account may not send to, each with the reason."""
        ...


class Policies:
    """All the account's send policies, asked in order; the first refusal of the sender wins."""

    def __init__(self, policies: Sequence[SendPolicy] = ()) -> None:
        self._policies = list(policies)

    def add(self, policy: SendPolicy) -> None:
        self._policies.append(policy)

    @property
    def active(self) -> bool:
        return bool(self._policies)

    async def sender_refusal(self, account_id: str, sender: str) -> str | None:
        for policy in self._policies:
            refusal = await policy.sender_refusal(account_id, sender)
            if refusal:
                return refusal
        return None

    async def recipient_refusals(self, account_id: str, recipients: Sequence[str]) -> dict[str, str]:
        refused: dict[str, str] = {}
        for policy in self._policies:
            left = [r for r in recipients if r not in refused]
            if not left:
                break
            refused.update(await policy.recipient_refusals(account_id, left))
        return refused
