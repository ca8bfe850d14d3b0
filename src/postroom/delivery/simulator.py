"""Simulator recipients: addresses on a reserved domain that produce each delivery outcome on demand.

`<local part>@simulator.postroom.test` is answered by Postroom itself in every delivery mode, so a test
suite can exercise deferrals, bounces, complaints, opens and clicks without any network. `.test` is
reserved by RFC 2606, so no real mail can be meant for it. Simulator recipients never enter the
suppression list: the same address can be used again and again.
"""

from __future__ import annotations

import asyncio

from postroom.delivery.transports.base import Job, Outcome

SIMULATOR_DOMAIN = "simulator.postroom.test"
HOST = SIMULATOR_DOMAIN
SOFTBOUNCE_TRIES = 3  # softbounce@ fails twice, then succeeds on the 3rd attempt
SLOW_SECONDS = 30.0

DELIVERED = Outcome("delivered", "250 2.0.0 OK simulated delivery", HOST)
TEMPORARY = Outcome("deferred", "451 4.3.0 simulated temporary failure", HOST)
USER_UNKNOWN = Outcome("bounced", "550 5.1.1 simulated: no such user", HOST)

BEHAVIOURS: dict[str, str] = {
    "delivered": "delivered, 250",
    "softbounce": "451 4.3.0 on the first two attempts, delivered on the third",
    "deferred": "451 4.3.0 on every attempt, until the queue lifetime bounces it",
    "hardbounce": "550 5.1.1, a hard bounce",
    "spam": "delivered, then a spam complaint",
    "open": "delivered, then opened",
    "click": "delivered, then clicked",
    "slow": f"delivered after {SLOW_SECONDS:.0f} s",
}


def is_simulated(job: Job) -> bool:
    return job.domain == SIMULATOR_DOMAIN


def outcome_for(job: Job) -> Outcome:
    """The scripted outcome of this attempt (by local part, case-insensitive; unknown → delivered)."""
    local = job.recipient.rpartition("@")[0].lower()
    if local == "softbounce":
        return DELIVERED if job.attempts >= SOFTBOUNCE_TRIES else TEMPORARY
    if local == "deferred":
        return TEMPORARY
    if local == "hardbounce":
        return USER_UNKNOWN
    if local in ("spam", "open", "click"):
        return Outcome("delivered", DELIVERED.response, HOST, followups=(local,))
    return DELIVERED


class SimulatorTransport:
    """Answers for simulator recipients; `slow@` takes SLOW_SECONDS (the worker runs each simulator
    job on its own, so a slow one holds up nothing else)."""

    name = "simulator"
    needs_content = False

    def __init__(self, slow_seconds: float = SLOW_SECONDS) -> None:
        self._slow_seconds = slow_seconds

    async def deliver(self, jobs: list[Job]) -> list[Outcome]:
        if any(job.recipient.rpartition("@")[0].lower() == "slow" for job in jobs):
            await asyncio.sleep(self._slow_seconds)
        return [outcome_for(job) for job in jobs]

    async def close(self) -> None:
        return None
