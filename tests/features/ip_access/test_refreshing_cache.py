"""RefreshingCache on its own: single flight, and clear() forgetting loads that are still running."""

from __future__ import annotations

import asyncio

import pytest

from postroom.features.ip_access.cache import RefreshingCache


async def test_a_load_running_when_the_cache_is_cleared_is_not_kept() -> None:
    cache: RefreshingCache[str, int] = RefreshingCache(60.0)
    release = asyncio.Event()
    loads = 0

    async def slow_old_value() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return 1

    async def new_value() -> int:
        nonlocal loads
        loads += 1
        return 2

    first = asyncio.create_task(cache.get("k", slow_old_value))
    await asyncio.sleep(0)
    cache.clear()  # a change committed while the old value was being read
    second = asyncio.create_task(cache.get("k", new_value))  # does not join the old load
    release.set()
    assert (await first, await second) == (1, 2)
    assert await cache.get("k", new_value) == 2 and loads == 2


async def test_a_failed_load_is_not_cached_and_is_raised_to_every_waiter() -> None:
    cache: RefreshingCache[str, int] = RefreshingCache(60.0)
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("database down")

    results = await asyncio.gather(*(cache.get("k", failing) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and calls == 1
    with pytest.raises(RuntimeError):
        await cache.get("k", failing)
    assert calls == 2


async def test_an_expired_answer_is_served_while_it_is_refreshed() -> None:
    cache: RefreshingCache[str, int] = RefreshingCache(0.0)
    values = iter([1, 2])

    async def load() -> int:
        return next(values)

    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 1  # stale; the refresh runs in the background
    await asyncio.sleep(0.01)
    assert await cache.get("k", load) == 2
