"""A delivery worker: claim due deliveries with a lease → prepare → hand to the transport → record.

Claimed work is split into lanes that run concurrently, so one slow destination holds up nothing
else: lanes of up to LANE_SIZE jobs of one recipient domain for real transports, one per job for
simulator recipients, and one for a whole batch in capture mode (where delivering is only recording).
Each lane records its own outcomes as soon as it has them; the group-commit writer merges those writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import timedelta

from postroom.clock import utcnow
from postroom.delivery import queue, simulator
from postroom.delivery.retry import DEFAULT_POLICY, RetryPolicy
from postroom.delivery.sources import SourceAddresses
from postroom.delivery.transports.base import Job, Outcome, Transport
from postroom.delivery.transports.capture import CaptureTransport
from postroom.delivery.wire import VERP_SECRET, Signer, Unsigned, WirePreparer
from postroom.storage.database import Database
from postroom.storage.state import shared_secret

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)
POLL_SECONDS = 1.0
GATHER_SECONDS = 0.05  # after a part-full round, let work gather so the next round is one bigger batch
BATCH = 500
MAX_IN_FLIGHT = 2000
# Jobs per lane for network transports: each lane records its outcomes when it ends, so this bounds
# what a killed worker delivered without recording (and what is delivered twice after a crash).
LANE_SIZE = 25
SHUTDOWN_GRACE_SECONDS = 10.0
SIGNER_REFRESH_SECONDS = 2.0  # a cheap check: the keyring reloads only when the stored keys changed

Lane = tuple[Transport, list[Job]]


class DeliveryWorker:
    """Runs until stopped; `wake()` makes it look for work at once (called after each accepted message)."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        *,
        batch: int = BATCH,
        policy: RetryPolicy = DEFAULT_POLICY,
        return_path_domain: str = "localhost",
        signer: Signer | None = None,
        simulator_transport: Transport | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
        lease: timedelta = LEASE,
        shutdown_grace: float = SHUTDOWN_GRACE_SECONDS,
        sources: SourceAddresses | None = None,
    ) -> None:
        self._db = db
        self._transport = transport
        self._simulator = simulator_transport or simulator.SimulatorTransport()
        self._capture = CaptureTransport()
        self._batch = batch
        self._policy = policy
        self._return_path_domain = return_path_domain
        self._signer = signer or Unsigned()
        self._preparer: WirePreparer | None = None
        self._sources = sources or SourceAddresses()
        self._max_in_flight = max_in_flight
        self._lease = lease
        self._shutdown_grace = shutdown_grace
        self._lanes_running: dict[asyncio.Task[None], list[int]] = {}
        self._room = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._signer_loaded = 0.0
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        self._room.set()

    @property
    def in_flight(self) -> int:
        return sum(len(ids) for ids in self._lanes_running.values())

    async def run(self) -> None:
        """Claim and dispatch until stopped; then finish in-flight lanes (or release their leases)."""
        try:
            while not self._stopping:
                claimed = await self._claim_round()
                if self._stopping or claimed >= self._batch:
                    continue
                if claimed:
                    await asyncio.sleep(GATHER_SECONDS)
                    continue
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), POLL_SECONDS)
        finally:
            await self._drain()

    async def _claim_round(self) -> int:
        room = self._max_in_flight - self.in_flight
        if room <= 0:
            self._room.clear()
            await self._room.wait()
            return 0
        try:
            jobs = await self._claim(min(self._batch, room))
        except Exception:
            log.exception("claiming deliveries failed; retrying")
            await asyncio.sleep(POLL_SECONDS)
            return 0
        for transport, lane in self._lanes(jobs):
            task = asyncio.create_task(self._run_lane(transport, lane))
            self._lanes_running[task] = [j.delivery_id for j in lane]
            task.add_done_callback(self._lane_done)
        return len(jobs)

    def _lane_done(self, task: asyncio.Task[None]) -> None:
        self._lanes_running.pop(task, None)
        self._room.set()

    async def run_once(self) -> int:
        """One claim → deliver → record round, awaited to the end; returns how many it handled."""
        jobs = await self._claim(self._batch)
        await asyncio.gather(*(self._run_lane(t, lane) for t, lane in self._lanes(jobs)))
        return len(jobs)

    async def _claim(self, limit: int) -> list[Job]:
        content = self._transport.needs_content
        if content:
            await self._ensure_preparer()
        now = utcnow()
        return await self._db.write(
            lambda c: queue.claim(c, self.worker_id, limit, now, self._lease, content)
        )

    async def _ensure_preparer(self) -> None:
        if self._preparer is None:
            secret = await self._db.write(lambda c: shared_secret(c, VERP_SECRET))
            self._preparer = WirePreparer(self._return_path_domain, secret, self._signer)
        if time.monotonic() - self._signer_loaded > SIGNER_REFRESH_SECONDS:
            await self._signer.refresh()
            self._signer_loaded = time.monotonic()

    def _lanes(self, jobs: list[Job]) -> list[Lane]:
        lanes: list[Lane] = []
        rest: list[Job] = []
        sandboxed: list[Job] = []
        for job in jobs:
            if simulator.is_simulated(job):
                lanes.append((self._simulator, [job]))
            elif job.sandbox and self._transport.needs_content:
                sandboxed.append(job)
            else:
                rest.append(job)
        if sandboxed:
            lanes.append((self._capture, sandboxed))
        if rest and not self._transport.needs_content:
            lanes.append((self._transport, rest))
        elif rest:
            by_domain: dict[str, list[Job]] = {}
            for job in rest:
                by_domain.setdefault(job.domain, []).append(job)
            lanes += [
                (self._transport, group[i : i + LANE_SIZE])
                for group in by_domain.values()
                for i in range(0, len(group), LANE_SIZE)
            ]
        return lanes

    async def _run_lane(self, transport: Transport, jobs: list[Job]) -> None:
        outcomes = await self._deliver(transport, jobs)
        results = list(zip(jobs, outcomes, strict=True))
        done = utcnow()
        await self._db.write(lambda c: queue.record(c, self.worker_id, results, done, self._policy))

    async def _deliver(self, transport: Transport, jobs: list[Job]) -> list[Outcome]:
        try:
            if transport.needs_content and self._preparer is not None:
                jobs = self._sources.for_jobs(self._preparer.prepare(jobs))
            return await transport.deliver(jobs)
        except Exception as exc:
            log.exception("transport %s failed; the deliveries are deferred", transport.name)
            failure = Outcome(
                "deferred", f"451 4.3.0 internal error in Postroom: {type(exc).__name__}", "postroom"
            )
            return [failure for _ in jobs]

    async def _drain(self) -> None:
        """Give in-flight lanes a grace period, then cancel the rest and release their leases."""
        running = list(self._lanes_running)
        if running:
            _, pending = await asyncio.wait(running, timeout=self._shutdown_grace)
            unfinished = [i for task in pending for i in self._lanes_running.get(task, [])]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if unfinished:
                with contextlib.suppress(Exception):
                    await self._db.write(lambda c: queue.release(c, self.worker_id, unfinished))
        for transport in (self._transport, self._simulator):
            with contextlib.suppress(Exception):
                await transport.close()
