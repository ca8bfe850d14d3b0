"""The periodic tasks a Postroom process runs under the scheduler's lease (later issues add theirs)."""

from __future__ import annotations

from datetime import timedelta

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.scheduler import domain_reverify, retention
from postroom.scheduler.runner import Scheduler
from postroom.scheduler.task import PeriodicTask
from postroom.settings import Settings
from postroom.storage.database import Database


def default_tasks(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> list[PeriodicTask]:
    return [
        domain_reverify.task(db, settings, clock=clock),
        retention.task(db, settings.retention_seconds, clock),
    ]


def build_scheduler(db: Database, settings: Settings, clock: Clock = SYSTEM_CLOCK) -> Scheduler:
    lease = timedelta(seconds=settings.scheduler_lease_seconds)
    tick = min(timedelta(seconds=2), lease / 3)
    return Scheduler(db, default_tasks(db, settings, clock), lease=lease, tick=tick, clock=clock)
