"""The Transport seam: how a claimed delivery leaves Postroom, and the typed outcome it reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

OutcomeKind = Literal["delivered", "deferred", "bounced"]


@dataclass(frozen=True)
class Job:
    """One delivery (one recipient of one message), as claimed from the queue.

    `mail_from` and `data` are what goes on the wire: the VERP return path and the message bytes
    (DKIM-signed when the sender domain has a key). They are filled in only for transports that
    need content (`Transport.needs_content`); capture leaves them empty. `source_address` is chosen
    by the worker from the message's `ip_pool` (delivery.sources) for those transports too.
    """

    delivery_id: int
    email_id: str
    account_id: str
    recipient: str
    sender: str
    attempts: int
    mail_from: str = ""
    data: bytes = b""
    from_domain: str = ""  # the From header's domain: whose DKIM key signs (DMARC alignment)
    sandbox: bool = False  # sent by a sandbox key or SMTP user: captured, never delivered
    ip_pool: int | None = None  # the message's dedicated IP pool (settings.ip_pools id), None: default
    source_address: str = ""  # the local address to connect from (one of the pool's); "": the default

    @property
    def domain(self) -> str:
        """The recipient's domain, lower-case: the unit of MX lookup, TLS policy and concurrency."""
        return self.recipient.rpartition("@")[2].lower()


@dataclass(frozen=True)
class Outcome:
    """What happened to one job: the kind, the SMTP response as text and the host that answered."""

    kind: OutcomeKind
    response: str
    host: str
    followups: tuple[str, ...] = ()  # events that follow a delivery: "spam", "open", "click" (simulator)


class Transport(Protocol):
    name: str
    needs_content: bool

    async def deliver(self, jobs: list[Job]) -> list[Outcome]:
        """Hand the jobs to the next hop; one outcome per job, in order. Never raises for a peer's
        failure: connection errors and timeouts are `deferred` outcomes."""
        ...

    async def close(self) -> None:
        """Close pooled connections (graceful shutdown)."""
        ...
