"""A delivery worker: claim a batch with a lease → hand it to the transport → record outcomes → repeat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import timedelta

from postroom.clock import utcnow
from postroom.delivery import queue
from postroom.delivery.transports.base import Transport
from postroom.storage.database import Database

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
POLL_SECONDS = 1.0
GATHER_SECONDS = 0.05  # after a part-full round, let work gather so the next round is one bigger batch
BATCH = 500


class DeliveryWorker:
    """Runs until stopped; `wake()` makes it look for work at once (called after each accepted message)."""

    def __init__(self, db: Database, transport: Transport, batch: int = BATCH) -> None:
        self._db = db
        self._transport = transport
        self._batch = batch
        self._wakeup = asyncio.Event()
        self._stopping = False
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("delivery round failed; retrying")
                worked = 0
            if self._stopping or worked >= self._batch:
                continue
            if worked:
                await asyncio.sleep(GATHER_SECONDS)
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), POLL_SECONDS)

    async def run_once(self) -> int:
        """One claim-deliver-record round; returns how many deliveries it handled."""
        now = utcnow()
        jobs = await self._db.write(lambda c: queue.claim(c, self.worker_id, self._batch, now, LEASE))
        if not jobs:
            return 0
        outcomes = await self._transport.deliver(jobs)
        results = list(zip(jobs, outcomes, strict=True))
        done = utcnow()
        await self._db.write(lambda c: queue.record(c, self.worker_id, results, done))
        return len(jobs)
