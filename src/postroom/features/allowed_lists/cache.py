"""Per-account snapshots in memory: used for at most `ttl` seconds after they were read, single flight.

Like ip_access.cache.RefreshingCache, concurrent misses share one load and `forget()` drops what a
load still running would bring back. Unlike it, an expired snapshot is never served while a new one
loads: the allowed lists are a security setting, so a change made by another process must take
effect within `ttl` even for an account that sent nothing for an hour. Under load that costs one
read per account per `ttl`, which the callers of that moment wait for together.

The load runs in its own task, so a caller that is cancelled (a client hanging up) does not cancel
it for the others waiting on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")
MAX_ENTRIES = 10000


class SnapshotCache(Generic[V]):
    def __init__(
        self, ttl: float, load: Callable[[str], Awaitable[V]], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._load = load
        self._clock = clock
        self._entries: dict[str, tuple[float, V]] = {}
        self._loading: dict[str, asyncio.Task[V]] = {}
        self._generation = 0

    async def get(self, key: str) -> V:
        """The snapshot of `key`, read at most `ttl` seconds ago."""
        cached = self._entries.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, self._generation))
            task.add_done_callback(lambda t: self._loaded(key, t))
            self._loading[key] = task
        return await asyncio.shield(task)

    def forget(self, key: str) -> None:
        """Drop `key`'s snapshot after a change; loads still running answer their callers, unkept."""
        self._generation += 1
        self._entries.pop(key, None)
        self._loading.pop(key, None)

    async def _fetch(self, key: str, generation: int) -> V:
        expires = self._clock() + self._ttl  # counted from before the read: the bound holds
        value = await self._load(key)
        if generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (expires, value)
        return value

    def _loaded(self, key: str, task: asyncio.Task[V]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled():
            task.exception()  # retrieved: a failure is raised to the waiters, not logged as unretrieved
