"""Pooling and running outbound SMTP transactions over SmtpSession: the pool of idle sessions, the
memory of a destination that is down, and the runner that spreads transactions over sessions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

from postroom.delivery.smtp_client import (
    DOWN_SECONDS,
    MAX_IDLE_SECONDS,
    MAX_SESSION_SECONDS,
    SessionError,
    SmtpSession,
)
from postroom.delivery.transports.base import Job, Outcome

log = logging.getLogger(__name__)


class SessionPool:
    """Idle sessions to one destination, kept for later transactions (at most `capacity` of them)."""

    def __init__(self, capacity: int, max_idle: float = MAX_IDLE_SECONDS) -> None:
        self.capacity = capacity
        self.max_idle = max_idle
        self._idle: list[SmtpSession] = []

    def __len__(self) -> int:
        return len(self._idle)

    async def take(self) -> SmtpSession | None:
        """The most recently used idle session that still answers RSET; dead or stale ones are closed."""
        while self._idle:
            session = self._idle.pop()
            if time.monotonic() - session.idle_since <= self.max_idle and await session.reset():
                return session
            await session.close()
        return None

    async def put(self, session: SmtpSession) -> None:
        """Keep the session for later, or close it when it is dead, too old or the pool is full."""
        now = time.monotonic()
        stale = [s for s in self._idle if now - s.idle_since > self.max_idle]
        self._idle = [s for s in self._idle if s not in stale]
        keep = session.alive and now - session.opened_at < MAX_SESSION_SECONDS
        if keep and len(self._idle) < self.capacity:
            session.idle_since = now
            self._idle.append(session)
        else:
            stale.append(session)
        for old in stale:
            await old.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for session in idle:
            await session.close()


class FailureMemory:
    """The last failure to open a session to one destination, remembered for `seconds` so that calls
    arriving meanwhile fail at once instead of each waiting for the same timeout (Postfix keeps a
    similar "dead host" state)."""

    def __init__(self, seconds: float = DOWN_SECONDS) -> None:
        self.seconds = seconds
        self._error: SessionError | None = None
        self._until = 0.0

    @property
    def active(self) -> bool:
        return self._error is not None and time.monotonic() < self._until

    async def connect(self, connect: Connect) -> SmtpSession:
        if self._error is not None and self.active:
            raise self._error
        try:
            session = await connect()
        except SessionError as exc:
            self._error, self._until = exc, time.monotonic() + self.seconds
            raise
        self._error = None
        return session


def group_transactions(jobs: Sequence[Job], limit: int) -> list[list[int]]:
    """Indices of the jobs, in transactions: jobs to one domain from one source address with the same
    envelope sender and the same bytes share one, up to `limit` recipients (bytes compare by identity
    first, so this is cheap when the worker hands the same object to each recipient of a message)."""
    open_groups: dict[tuple[str, str, str, bytes], list[int]] = {}
    transactions: list[list[int]] = []
    for i, job in enumerate(jobs):
        key = (job.domain, job.source_address, job.mail_from, job.data)
        group = open_groups.get(key)
        if group is None or len(group) >= limit:
            group = open_groups[key] = []
            transactions.append(group)
        group.append(i)
    return transactions


K = TypeVar("K", bound=Hashable)


async def deliver_grouped(
    jobs: Sequence[Job], key: Callable[[Job], K], deliver: Callable[[K, list[Job]], Awaitable[list[Outcome]]]
) -> list[Outcome]:
    """Split the jobs by `key` (a destination, a source address), deliver the groups concurrently and
    give back one outcome per job in the jobs' order."""
    groups: dict[K, list[int]] = {}
    for i, job in enumerate(jobs):
        groups.setdefault(key(job), []).append(i)
    results = await asyncio.gather(*(deliver(k, [jobs[i] for i in indices]) for k, indices in groups.items()))
    outcomes: dict[int, Outcome] = {}
    for indices, group_outcomes in zip(groups.values(), results, strict=True):
        outcomes.update(zip(indices, group_outcomes, strict=True))
    return [outcomes[i] for i in range(len(jobs))]


Connect = Callable[[], Awaitable[SmtpSession]]
Pace = Callable[[], Awaitable[Outcome | None]]


class TransactionRunner:
    """Sends the transactions of one `deliver` call to one destination over up to `workers` sessions.

    A worker takes a pooled session (checked with RSET) or opens one with `connect`, runs transactions
    until none are left and hands its session back to the pool. A reused session that fails before
    MAIL is replaced once by a new one. After a connection attempt fails, later transactions that need
    a new session fail the same way at once instead of waiting for the same timeout again. `pace`, when
    given, runs before each transaction and may refuse it (a rate limit).
    """

    def __init__(
        self, jobs: Sequence[Job], pool: SessionPool, connect: Connect, pace: Pace | None = None
    ) -> None:
        self._jobs = jobs
        self._pool = pool
        self._connect = connect
        self._pace = pace
        self._queue: deque[list[int]] = deque()
        self._failure: SessionError | None = None
        self.outcomes: dict[int, Outcome] = {}

    async def run(
        self, transactions: list[list[int]], workers: int, slots: asyncio.Semaphore
    ) -> list[Outcome]:
        """The outcome of every job, in order; `slots` bounds the sessions in use across runs."""
        self._queue.extend(transactions)
        await asyncio.gather(*(self._worker(slots) for _ in range(min(workers, len(transactions)))))
        return [self.outcomes[i] for i in range(len(self._jobs))]

    async def _worker(self, slots: asyncio.Semaphore) -> None:
        async with slots:
            session: SmtpSession | None = None
            try:
                while self._queue:
                    session = await self._transaction(session, self._queue.popleft())
            except BaseException:  # cancelled mid-transaction: the session's state is unknown
                if session is not None:
                    session.abort()
                raise
            if session is not None:
                await self._pool.put(session)

    async def _transaction(self, session: SmtpSession | None, tx: list[int]) -> SmtpSession | None:
        """Run one transaction and record its outcomes; the session to carry on with."""
        refusal = await self._pace() if self._pace is not None else None
        if refusal is not None:
            self.outcomes.update((i, refusal) for i in tx)
            return session
        try:
            session, results = await self._send(session, [self._jobs[i] for i in tx])
        except SessionError as exc:
            self._failure = exc
            self.outcomes.update((i, exc.outcome()) for i in tx)
            return None
        except Exception as exc:  # a bug must not lose the whole batch: defer and log it
            log.exception("outbound SMTP transaction failed")
            if session is not None:
                session.abort()
            text = f"451 4.3.0 internal error in Postroom: {type(exc).__name__}"  # as the worker says it
            self.outcomes.update((i, Outcome("deferred", text, "postroom")) for i in tx)
            return None
        retry = [i for i, result in zip(tx, results, strict=True) if result is None]
        self.outcomes.update((i, r) for i, r in zip(tx, results, strict=True) if r is not None)
        if retry:
            self._queue.appendleft(retry)
        return session

    async def _send(
        self, session: SmtpSession | None, jobs: list[Job]
    ) -> tuple[SmtpSession, list[Outcome | None]]:
        recipients = [job.recipient for job in jobs]
        if session is not None:
            try:
                return session, await session.send(jobs[0].mail_from, recipients, jobs[0].data)
            except SessionError:
                await session.close()  # the peer dropped a reused session: one more try on a new one
        session = await self._open()
        try:
            return session, await session.send(jobs[0].mail_from, recipients, jobs[0].data)
        except SessionError:
            await session.close()
            raise

    async def _open(self) -> SmtpSession:
        session = await self._pool.take()
        if session is not None:
            return session
        if self._failure is not None:
            raise self._failure
        return await self._connect()
