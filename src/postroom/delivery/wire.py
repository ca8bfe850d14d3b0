"""What goes on the wire for a claimed job: the VERP return path and the (DKIM-signed) message bytes."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from postroom.delivery.transports.base import Job
from postroom.mail import verp

VERP_SECRET = "verp_secret"


class Signer(Protocol):
    async def refresh(self) -> None:
        """Bring the keys up to date (called by the worker at start and every couple of seconds)."""
        ...

    def sign(self, data: bytes, sender_domain: str) -> bytes:
        """The message with a DKIM-Signature prepended, or unchanged when the domain has no key."""
        ...


class Unsigned:
    async def refresh(self) -> None:
        return None

    def sign(self, data: bytes, sender_domain: str) -> bytes:
        return data


class WirePreparer:
    """Fills `mail_from` and `data` of jobs; a message's bytes are signed once for all its recipients."""

    def __init__(self, return_path_domain: str, secret: bytes, signer: Signer) -> None:
        self._domain = return_path_domain
        self._secret = secret
        self._signer = signer

    def prepare(self, jobs: list[Job]) -> list[Job]:
        signed: dict[str, bytes] = {}
        out = []
        for job in jobs:
            data = signed.get(job.email_id)
            if data is None:
                domain = job.from_domain or job.sender.rpartition("@")[2].lower()
                data = signed[job.email_id] = self._signer.sign(job.data, domain)
            mail_from = verp.return_path(job.delivery_id, self._domain, self._secret)
            out.append(replace(job, mail_from=mail_from, data=data))
        return out
