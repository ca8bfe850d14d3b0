"""The one lookup cache: single flight, freshness on a clock, stale-while-revalidate, errors not kept."""

from __future__ import annotations

import asyncio

import pytest

from postroom.cache import Cache
from postroom.testing import FakeClock


class Source:
    """A load that counts its calls, can be held at a gate, and can be made to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.value = "v1"
        self.failure: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def load(self, key: str) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        return f"{key}:{self.value}"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_one_load_for_a_hundred_concurrent_callers() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache: Cache[str, str] = Cache(source.load, fresh=5, clock=FakeClock())
    waiting = [asyncio.create_task(cache.get("k")) for _ in range(100)]
    await settle()
    source.gate.set()
    assert await asyncio.gather(*waiting) == ["k:v1"] * 100
    assert source.calls == 1


async def test_fresh_answers_are_served_and_an_expired_one_is_loaded_again() -> None:
    source, clock = Source(), FakeClock()
    cache: Cache[str, str] = Cache(source.load, fresh=5, clock=clock)
    assert await cache.get("k") == "k:v1"
    source.value = "v2"
    clock.advance(4.9)
    assert await cache.get("k") == "k:v1" and source.calls == 1
    clock.advance(0.2)
    assert await cache.get("k") == "k:v2" and source.calls == 2  # no stale window: the caller waits


async def test_a_stale_answer_is_served_while_one_refresh_runs() -> None:
    source, clock = Source(), FakeClock()
    cache: Cache[str, str] = Cache(source.load, fresh=5, stale=5, clock=clock)
    await cache.get("k")
    source.value = "v2"
    source.gate = asyncio.Event()
    clock.advance(6)
    assert [await cache.get("k") for _ in range(20)] == ["k:v1"] * 20  # stale, one refresh started
    source.gate.set()
    await settle()
    assert await cache.get("k") == "k:v2" and source.calls == 2
    clock.advance(10.5)  # past fresh + stale: never served, the caller waits for the read
    source.value = "v3"
    source.gate = None
    assert await cache.get("k") == "k:v3"


async def test_an_error_is_raised_to_its_waiters_and_not_kept() -> None:
    source, clock = Source(), FakeClock()
    cache: Cache[str, str] = Cache(source.load, fresh=5, clock=clock)
    source.failure = RuntimeError("database down")
    results = await asyncio.gather(*(cache.get("k") for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and source.calls == 1
    source.failure = None
    assert await cache.get("k") == "k:v1" and source.calls == 2


async def test_a_failed_refresh_keeps_the_old_answer_and_the_next_call_retries() -> None:
    source, clock = Source(), FakeClock()
    cache: Cache[str, str] = Cache(source.load, fresh=5, stale=60, clock=clock)
    await cache.get("k")
    clock.advance(6)
    source.failure = RuntimeError("database down")
    assert await cache.get("k") == "k:v1"
    await settle()  # the refresh failed
    assert source.calls == 2 and await cache.get("k") == "k:v1"
    source.failure = None
    source.value = "v2"
    await settle()
    assert await cache.get("k") == "k:v2" and source.calls == 3


async def test_forget_drops_an_answer_and_one_read_before_it() -> None:
    source, clock = Source(), FakeClock()
    cache: Cache[str, str] = Cache(source.load, fresh=60, clock=clock)
    source.gate = asyncio.Event()
    loading = asyncio.create_task(cache.get("k"))
    await settle()
    cache.forget("k")  # the row changed while the old one was being read
    source.gate.set()
    assert await loading == "k:v1"  # its caller still gets an answer
    source.value = "v2"
    assert await cache.get("k") == "k:v2"  # but it was not kept
    cache.forget()
    source.value = "v3"
    assert await cache.get("k") == "k:v3"


async def test_a_cancelled_caller_does_not_cancel_the_shared_load() -> None:
    source = Source()
    source.gate = asyncio.Event()
    cache: Cache[str, str] = Cache(source.load, fresh=5, clock=FakeClock())
    first, second = asyncio.create_task(cache.get("k")), asyncio.create_task(cache.get("k"))
    await settle()
    first.cancel()
    source.gate.set()
    assert await second == "k:v1"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_entries_are_bounded() -> None:
    source = Source()
    cache: Cache[str, str] = Cache(source.load, fresh=60, clock=FakeClock(), max_entries=3)
    for key in "abcd":
        await cache.get(key)
    assert len(cache) <= 3
