"""The Scheduler: holds (or waits for) the leader lease, and while it leads runs each task when due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.scheduler import repo
from postroom.scheduler.task import PeriodicTask
from postroom.storage.database import Database

log = logging.getLogger(__name__)
LEASE = "scheduler"


def holder_name() -> str:
    """This process, as lease holders are named: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    """`run()` until `stop()`: every `tick`, take or renew the lease; while leading, run due tasks.

    The lease lasts `lease` and is renewed every tick, so a leader that dies (even by SIGKILL) is
    replaced within `lease + tick`; a clean stop releases it at once. Tasks run one at a time, each
    after its interval since its last start by any process; a task that fails is logged and
    recorded, and runs again at its next turn. The lease is renewed while a task runs; a task still
    running when the lease is lost anyway (the database away) finishes, but no new one starts.
    """

    def __init__(
        self,
        db: Database,
        tasks: Sequence[PeriodicTask],
        *,
        lease: timedelta = timedelta(seconds=30),
        tick: timedelta = timedelta(seconds=2),
        clock: Clock = SYSTEM_CLOCK,
        holder: str | None = None,
    ) -> None:
        if len({t.name for t in tasks}) != len(tasks):
            raise ValueError("periodic task names must be unique")
        self._db = db
        self._tasks = list(tasks)
        self._lease = lease
        self._tick = tick.total_seconds()
        self._clock = clock
        self.holder = holder or holder_name()
        self.leading = False
        self._led_since: datetime | None = None
        self._last: dict[str, datetime] = {}
        self._stopping = asyncio.Event()

    @property
    def tasks(self) -> list[PeriodicTask]:
        return list(self._tasks)

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                await self.step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._tick)
        finally:
            await self._release()

    def stop(self) -> None:
        self._stopping.set()

    async def step(self) -> list[str]:
        """One round: renew or take the lease, then run the tasks now due; the names of those run."""
        if not await self._renew():
            return []
        ran = []
        for task in self._tasks:
            if self._stopping.is_set() or not self.leading:
                break
            if self._due(task):
                await self._run(task)
                ran.append(task.name)
        return ran

    async def _renew(self) -> bool:
        now = self._clock.now()
        try:
            leading = await self._db.write(lambda c: repo.take_lease(c, LEASE, self.holder, now, self._lease))
        except Exception:
            log.warning("the scheduler could not reach the database to renew its lease", exc_info=True)
            leading = False
        if leading and not self.leading:
            log.info("scheduler %s leads (lease %s)", self.holder, self._lease)
            self._led_since = now
            self._last = await self._db.read(repo.last_starts)
        elif self.leading and not leading:
            log.warning("scheduler %s lost the lease", self.holder)
        self.leading = leading
        return leading

    def _due(self, task: PeriodicTask) -> bool:
        now = self._clock.now()
        last = self._last.get(task.name)
        if last is None:
            assert self._led_since is not None
            return now >= self._led_since + task.initial_delay
        return now >= last + task.interval

    async def _run(self, task: PeriodicTask) -> None:
        started, began = self._clock.now(), self._clock.monotonic()
        self._last[task.name] = started
        await self._db.write(lambda c: repo.record_start(c, task.name, self.holder, started))
        failed = False
        keepalive = asyncio.create_task(self._keep_leading())
        try:
            outcome = await task.run()
        except Exception as exc:
            log.exception("periodic task %s failed; it runs again in %s", task.name, task.interval)
            outcome, failed = f"{type(exc).__name__}: {exc}", True
        finally:
            keepalive.cancel()
        duration = self._clock.monotonic() - began
        log.debug("periodic task %s: %s (%.3f s)", task.name, outcome, duration)
        with contextlib.suppress(Exception):
            await self._db.write(
                lambda c: repo.record_finish(c, task.name, self._clock.now(), duration, outcome, failed)
            )

    async def _keep_leading(self) -> None:
        """Renew the lease every tick while a task runs, however long it takes."""
        while True:
            await asyncio.sleep(self._tick)
            await self._renew()

    async def _release(self) -> None:
        if self.leading:
            self.leading = False
            with contextlib.suppress(Exception):
                await self._db.write(lambda c: repo.release_lease(c, LEASE, self.holder))
