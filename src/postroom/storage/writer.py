"""Group commit: many concurrent writes share one transaction and one fsync.

Each request hands a small function to the writer thread and awaits its result. The thread drains
what has queued up, runs each function inside its own SAVEPOINT (so one failing write cannot spoil
the others), commits once, and only then resolves the callers' futures: an answer of success always
follows a durable commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from postroom.errors import PostroomError, StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
WriteFn = Callable[[Connection], Any]
_Item = tuple[WriteFn, asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class GroupWriter:
    """One writer thread per process; `await writer.run(fn)` returns fn's result after commit."""

    def __init__(self, engine: Engine, max_batch: int = 512) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="postroom-writer", daemon=True)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._started = False

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run fn(conn) in the next group transaction; raise its exception, or StorageUnavailable."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, loop, fut))
        return await fut

    def _drain(self, first: _Item) -> tuple[list[_Item], bool]:
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._drain(first)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[_Item]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._engine.connect() as conn:
                conn.info["writer"] = True
                with conn.begin():
                    for fn, _loop, _fut in batch:
                        outcomes.append(self._run_one(conn, fn))
        except Exception as exc:
            log.exception("group commit of %d writes failed", len(batch))
            failure = StorageUnavailable(f"the database could not store the change: {exc.__class__.__name__}")
            outcomes = [(False, failure)] * len(batch)
        self._resolve(batch, outcomes)

    @staticmethod
    def _run_one(conn: Connection, fn: WriteFn) -> tuple[bool, Any]:
        savepoint = conn.begin_nested()
        try:
            result = fn(conn)
        except Exception as exc:
            savepoint.rollback()
            if not isinstance(exc, PostroomError):
                log.exception("write failed")
            return False, exc
        savepoint.commit()
        return True, result

    @staticmethod
    def _resolve(batch: list[_Item], outcomes: list[tuple[bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_fn, loop, fut), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((fut, ok, value))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in items:
        if fut.done():
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)
