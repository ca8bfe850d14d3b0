"""A small in-process cache of lookups: fresh for a few seconds, refreshed in the background, single flight.

The same scheme as api_keys.service.KeyAuthenticator: an answer is fresh for `ttl` seconds; after
that the old answer is still served while one background load refreshes it, and concurrent misses
share one load, so an expiry under load never stalls every caller at once. `clear()` forgets every
answer and every load already running, so nothing read before a change is served after it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MAX_ENTRIES = 10000


class RefreshingCache(Generic[K, V]):
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._refreshes: set[asyncio.Task[V]] = set()
        self._generation = 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached answer for `key`, or `load()`'s (shared with concurrent callers)."""
        cached = self._entries.get(key)
        if cached is None:
            return await self._load(key, load)
        expires, value = cached
        if expires <= time.monotonic() and key not in self._loading:
            task = asyncio.create_task(self._load(key, load))
            self._refreshes.add(task)
            task.add_done_callback(self._refresh_done)
        return value

    def clear(self) -> None:
        """Forget everything; loads already running still answer their callers but are not kept."""
        self._generation += 1
        self._entries.clear()
        self._loading.clear()

    def _refresh_done(self, task: asyncio.Task[V]) -> None:
        self._refreshes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("refreshing a cached IP access lookup failed: %s", task.exception())

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        generation = self._generation
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "unretrieved"
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        finally:
            if self._loading.get(key) is future:
                del self._loading[key]
        if generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self._ttl, value)
        future.set_result(value)
        return value
