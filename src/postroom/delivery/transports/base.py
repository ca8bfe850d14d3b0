"""The Transport seam: how a claimed delivery leaves Postroom, and the typed outcome it reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

OutcomeKind = Literal["delivered", "deferred", "bounced"]


@dataclass(frozen=True)
class Job:
    """One delivery (one recipient of one message), as claimed from the queue."""

    delivery_id: int
    email_id: str
    account_id: str
    recipient: str
    sender: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What happened to one job: the kind, the SMTP-like response and the host that answered."""

    kind: OutcomeKind
    response: str
    host: str


class Transport(Protocol):
    name: str

    async def deliver(self, jobs: list[Job]) -> list[Outcome]:
        """Hand the jobs to the next hop; one outcome per job, in order."""
        ...
