"""Group commit: many concurrent writes share one transaction and one fsync.

Each caller hands the writer thread a write and awaits its result. The thread drains what has
queued up and runs it in one transaction, commits once, and only then resolves the callers'
futures: an answer of success always follows a durable commit.

Two kinds of write:
- `run(fn)`: fn(conn) runs inside its own SAVEPOINT, so one failing write cannot spoil the others.
- `run_batched(many, item)`: writes of the same `many` function queued together are combined into
  one call `many(conn, [item, …])` (one multi-row INSERT instead of one per caller). If that call
  fails, each item is retried alone in its own SAVEPOINT so only the bad one fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from postroom.errors import PostroomError, StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
Many = Callable[[Connection, list[Any]], Sequence[Any]]


@dataclass(frozen=True)
class _Write:
    many: Many
    item: Any
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _single(conn: Connection, fns: list[Callable[[Connection], Any]]) -> list[Any]:
    return [fn(conn) for fn in fns]


class GroupWriter:
    """One writer thread per process; `await writer.run(fn)` returns fn's result after commit."""

    def __init__(self, engine: Engine, max_batch: int = 512) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="postroom-writer", daemon=True)
        self._started = False
        self._stopped = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued and end the thread; later writes raise StorageUnavailable at once."""
        self._stopped = True
        if self._started:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._started = False
        self._refuse_queued()

    def _refuse_queued(self) -> None:
        """Fail writes that were queued behind the stop (a race with stop()), so none waits forever."""
        refused = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                refused.append((item, False, _stopped_error()))
        _resolve(refused)

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run fn(conn) in the next group transaction; raise its exception, or StorageUnavailable."""
        result: T = await self._submit(_single, fn)
        return result

    async def run_batched(self, many: Callable[[Connection, list[Any]], Sequence[R]], item: Any) -> R:
        """Queue `item` for `many`; returns this item's element of many's result list after commit."""
        result: R = await self._submit(many, item)
        return result

    async def _submit(self, many: Many, item: Any) -> Any:
        if self._stopped:
            raise _stopped_error()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Write(many, item, loop, future))
        if self._stopped and not self._thread.is_alive():  # stop() finished between the check and the put
            self._refuse_queued()
        return await future

    def _drain(self, first: _Write) -> tuple[list[_Write], bool]:
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

    def _commit(self, batch: list[_Write]) -> None:
        outcomes: dict[int, tuple[bool, Any]] = {}
        try:
            with self._engine.connect() as conn:
                conn.info["writer"] = True
                with conn.begin():
                    for group in _groups(batch):
                        outcomes.update(self._run_group(conn, group))
        except Exception as exc:
            log.exception("group commit of %d writes failed", len(batch))
            failure = StorageUnavailable(f"the database could not store the change: {exc.__class__.__name__}")
            outcomes = {id(w): (False, failure) for w in batch}
        _resolve([(w, *outcomes[id(w)]) for w in batch])

    def _run_group(self, conn: Connection, group: list[_Write]) -> dict[int, tuple[bool, Any]]:
        many = group[0].many
        if many is not _single and len(group) > 1:
            ok, results = _attempt(conn, lambda c: many(c, [w.item for w in group]))
            if ok:
                return {id(w): (True, r) for w, r in zip(group, results, strict=True)}
        out = {}
        for w in group:
            ok, value = _attempt(conn, lambda c, w=w: many(c, [w.item])[0])  # type: ignore[misc]
            out[id(w)] = (ok, value)
        return out


def _stopped_error() -> StorageUnavailable:
    return StorageUnavailable("the database writer has stopped; the change was not stored")


def _groups(batch: list[_Write]) -> list[list[_Write]]:
    """Batched writes grouped by their function (in first-seen order); single writes stay alone."""
    groups: dict[Any, list[_Write]] = {}
    for w in batch:
        key = id(w) if w.many is _single else w.many
        groups.setdefault(key, []).append(w)
    return list(groups.values())


def _attempt(conn: Connection, fn: Callable[[Connection], Any]) -> tuple[bool, Any]:
    savepoint = conn.begin_nested()
    try:
        result = fn(conn)
    except Exception as exc:
        savepoint.rollback()
        if not isinstance(exc, PostroomError):
            log.debug("write failed in its savepoint", exc_info=True)
        return False, exc
    savepoint.commit()
    return True, result


def _resolve(results: list[tuple[_Write, bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for w, ok, value in results:
        by_loop.setdefault(w.loop, []).append((w.future, ok, value))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the caller's loop has closed
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
