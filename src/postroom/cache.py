"""One in-process cache for lookups: single flight, stale-while-revalidate, bounded, forgettable.

An answer is *fresh* for `fresh` seconds after its read began; for `stale` seconds after that it is
still served while one background load refreshes it; older than that, callers wait for a load. So a
change made by another process is seen within `fresh + stale` seconds, and an expiry under load
never stalls every caller at once. Concurrent misses of one key share one load (single flight).

A load runs in its own task: a caller that is cancelled (a client hanging up) does not cancel it
for the others waiting on it. A load that fails raises to its waiters and leaves nothing behind, so
the next call loads again (an error does not poison the cache); a failed background refresh keeps
the old answer for the rest of its stale window. `forget()` drops answers and makes loads already
running answer their callers without being kept, so nothing read before a change is served after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from postroom.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MAX_ENTRIES = 10000


@dataclass(frozen=True)
class _Entry(Generic[V]):
    read_at: float  # monotonic time the read began
    value: V


class Cache(Generic[K, V]):
    """Answers of `load(key)`, as the module docstring describes."""

    def __init__(
        self,
        load: Callable[[K], Awaitable[V]],
        *,
        fresh: float,
        stale: float = 0.0,
        clock: Clock = SYSTEM_CLOCK,
        max_entries: int = MAX_ENTRIES,
        name: str = "lookup",
    ) -> None:
        self._load = load
        self._fresh = fresh
        self._stale = stale
        self._clock = clock
        self._max_entries = max_entries
        self._name = name
        self._entries: dict[K, _Entry[V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._generation = 0

    async def get(self, key: K) -> V:
        """The answer for `key`: cached, or from a load shared with every concurrent caller."""
        entry = self._entries.get(key)
        if entry is not None:
            age = self._clock.monotonic() - entry.read_at
            if age < self._fresh:
                return entry.value
            if age < self._fresh + self._stale:
                self._start(key)  # refresh in the background; the old answer is served meanwhile
                return entry.value
        return await asyncio.shield(self._start(key))

    def peek(self, key: K) -> V | None:
        """The cached answer for `key` if it is still within its stale window, without loading."""
        entry = self._entries.get(key)
        if entry is None or self._clock.monotonic() - entry.read_at >= self._fresh + self._stale:
            return None
        return entry.value

    def forget(self, key: K | None = None) -> None:
        """Drop `key`'s answer (every answer when None); loads running now answer but are not kept."""
        self._generation += 1
        if key is None:
            self._entries.clear()
            self._loading.clear()
        else:
            self._entries.pop(key, None)
            self._loading.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _start(self, key: K) -> asyncio.Task[V]:
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, self._generation))
            task.add_done_callback(lambda done: self._finished(key, done))
            self._loading[key] = task
        return task

    async def _fetch(self, key: K, generation: int) -> V:
        read_at = self._clock.monotonic()  # counted from before the read: the freshness bound holds
        value = await self._load(key)
        if generation == self._generation:
            if len(self._entries) >= self._max_entries and key not in self._entries:
                self._entries.clear()
            self._entries[key] = _Entry(read_at, value)
        return value

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled() and task.exception() is not None:  # retrieved: never "unretrieved"
            log.debug("loading a cached %s failed: %s", self._name, task.exception())
