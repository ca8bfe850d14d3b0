"""Periodic task: delete events, captured messages and feedback reports older than `retention` (30
days by default, as SMTP2GO keeps activity; 0 keeps everything), and expired web sign-out records.

Deletion runs in batches of BATCH rows, each its own short write, so sends and SMTP are never held
up for long; one run stops after MAX_BATCHES batches per kind and the next run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.features.api_keys.sessions import REVOKED_STATE
from postroom.scheduler.task import PeriodicTask
from postroom.storage import retention
from postroom.storage.database import Database

NAME = "retention"
INTERVAL = timedelta(minutes=10)
BATCH = 500
MAX_BATCHES = 200
SIGNED_OUT_PREFIX = REVOKED_STATE  # revoked web sessions' rows (value: their expiry)

Deleter = Callable[[Connection, datetime, int], int]


async def _drain(db: Database, deleter: Deleter, cutoff: datetime, batch: int) -> int:
    total = 0
    for _ in range(MAX_BATCHES):
        deleted = await db.write(lambda c: deleter(c, cutoff, batch))
        total += deleted
        if deleted < batch:
            break
    return total


async def apply_retention(
    db: Database, keep_seconds: int, clock: Clock = SYSTEM_CLOCK, batch: int = BATCH
) -> dict[str, int]:
    """One round of deletion, `batch` rows per write; how many rows of each kind went."""
    now = clock.now()
    counts = {"sign-outs": await _drain(db, _expired_sign_outs(clock), now, batch)}
    if keep_seconds <= 0:
        return counts
    cutoff = now - timedelta(seconds=keep_seconds)
    counts["events"] = await _drain(db, retention.delete_events, cutoff, batch)
    counts["messages"] = await _drain(db, retention.delete_messages, cutoff, batch)
    counts["feedback"] = await _drain(db, retention.delete_feedback, cutoff, batch)
    return counts


def _expired_sign_outs(clock: Clock) -> Deleter:
    def deleter(conn: Connection, cutoff: datetime, limit: int) -> int:
        return retention.delete_expired_state(conn, SIGNED_OUT_PREFIX, int(clock.timestamp()), limit)

    return deleter


def task(db: Database, keep_seconds: int, clock: Clock = SYSTEM_CLOCK) -> PeriodicTask:
    async def run() -> str:
        counts = await apply_retention(db, keep_seconds, clock)
        return "deleted " + ", ".join(f"{n} {kind}" for kind, n in counts.items())

    return PeriodicTask(NAME, INTERVAL, run)
