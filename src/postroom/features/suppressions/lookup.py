"""The suppression check of the SMTP door, batched: lookups asked while one read runs share the next.

Every RCPT TO asks whether its recipient is suppressed, and nothing may be cached (a removed entry
must let mail through at once, in every process). One read per RCPT TO cost the SMTP door about
half its messages per second in bench/smtp_ingest.py, most of it the hop to a reader thread. So
lookups queue here: at most one read runs, and the lookups that arrive meanwhile are answered
together by the next one (one query per account), as the group-commit writer does for writes.
Each answer is read after its question was asked, so it is never staler than a read of its own.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection

from postroom.features.suppressions import repo
from postroom.storage.database import Database

Question = tuple[str, list[str], "asyncio.Future[set[str]]"]


class SuppressedLookup:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiting: list[Question] = []
        self._running: asyncio.Task[None] | None = None

    async def suppressed(self, account_id: str, addresses: list[str]) -> set[str]:
        """Which of these addresses (lower-cased) the account's list suppresses, read after this call."""
        answer: asyncio.Future[set[str]] = asyncio.get_running_loop().create_future()
        self._waiting.append((account_id, addresses, answer))
        running = self._running
        if running is None or running.done() or running.get_loop() is not answer.get_loop():
            self._running = asyncio.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._answer(batch)
        finally:
            if self._running is asyncio.current_task():
                self._running = None

    async def _answer(self, batch: list[Question]) -> None:
        wanted: dict[str, set[str]] = {}
        for account_id, addresses, _ in batch:
            wanted.setdefault(account_id, set()).update(addresses)

        def read(conn: Connection) -> dict[str, set[str]]:
            return {a: repo.suppressed_among(conn, a, addresses) for a, addresses in wanted.items()}

        try:
            hits = await self._db.read(read)
        except Exception as exc:  # every waiter of the batch gets the failure, as a read of its own would
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for account_id, addresses, answer in batch:
            if not answer.done():  # its caller may have gone (a client hanging up)
                answer.set_result({a.lower() for a in addresses} & hits[account_id])
