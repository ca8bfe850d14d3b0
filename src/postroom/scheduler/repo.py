"""The scheduler's SQL: the leader lease and each task's last run."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.exc import IntegrityError

from postroom.storage.tables import leases, scheduler_runs


def take_lease(conn: Connection, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease `name` for `holder` until now + ttl; False while another holds it.

    One conditional UPDATE: of processes racing for a free or expired lease, exactly one row update
    succeeds (PostgreSQL re-checks the condition after the row lock; SQLite writes one at a time).
    """
    result = conn.execute(
        update(leases)
        .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    if result.rowcount == 1:
        return True
    if conn.execute(select(leases.c.name).where(leases.c.name == name)).first() is not None:
        return False
    try:  # the lease has no row yet (the migration makes the scheduler's): the first insert wins
        with conn.begin_nested():
            conn.execute(leases.insert().values(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release_lease(conn: Connection, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so another process need not wait for it to expire."""
    conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(holder="", expires_at=datetime(1970, 1, 1))
    )


def lease_holder(conn: Connection, name: str, now: datetime) -> str:
    """Who holds the lease now ("" when it is free or expired)."""
    row = conn.execute(select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)).first()
    return str(row.holder) if row is not None and row.expires_at >= now else ""


def last_starts(conn: Connection) -> dict[str, datetime]:
    """When each task last started, by any process."""
    return {
        r.task: r.started_at for r in conn.execute(select(scheduler_runs.c.task, scheduler_runs.c.started_at))
    }


def record_start(conn: Connection, task: str, holder: str, now: datetime) -> None:
    values: dict[str, Any] = {"holder": holder, "started_at": now, "finished_at": None}
    if (
        conn.execute(update(scheduler_runs).where(scheduler_runs.c.task == task).values(**values)).rowcount
        == 0
    ):
        conn.execute(
            scheduler_runs.insert().values(
                task=task, outcome="", failed=False, runs=0, duration_seconds=None, **values
            )
        )


def record_finish(
    conn: Connection, task: str, now: datetime, duration: float, outcome: str, failed: bool
) -> None:
    conn.execute(
        update(scheduler_runs)
        .where(scheduler_runs.c.task == task)
        .values(
            finished_at=now,
            duration_seconds=duration,
            outcome=outcome[:2000],
            failed=failed,
            runs=scheduler_runs.c.runs + 1,
        )
    )


def runs(conn: Connection) -> list[dict[str, Any]]:
    """Every task's last run, for status pages and tests."""
    return [dict(r._mapping) for r in conn.execute(select(scheduler_runs).order_by(scheduler_runs.c.task))]
