"""Periodic task: re-check sender domains whose records are not yet all verified, every 7 minutes (as
SMTP2GO does). A domain checked less than an interval ago (by /domain/verify, say) waits its turn."""

from __future__ import annotations

from datetime import timedelta

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.delivery.dns import RecordResolver
from postroom.features.domains.verify import REVERIFY_INTERVAL, reverify_due, targets_of
from postroom.features.domains.verify import verify_resolver as default_resolver
from postroom.scheduler.task import PeriodicTask
from postroom.settings import Settings
from postroom.storage.database import Database

NAME = "domain_reverify"
# a domain the last round checked is due again in this round, though checked a moment after it began
SLACK = timedelta(minutes=1)


def task(
    db: Database, settings: Settings, resolver: RecordResolver | None = None, clock: Clock = SYSTEM_CLOCK
) -> PeriodicTask:
    lookups = resolver or default_resolver(settings)
    targets = targets_of(settings)

    async def run() -> str:
        checked = await reverify_due(db, lookups, REVERIFY_INTERVAL - SLACK, targets, clock)
        return f"checked {checked} domain(s)"

    # the first round comes one interval after start: a restart sets off no burst of lookups
    return PeriodicTask(NAME, REVERIFY_INTERVAL, run, initial_delay=REVERIFY_INTERVAL)
