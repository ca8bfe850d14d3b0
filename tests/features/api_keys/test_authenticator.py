"""Key lookups: cached, refreshed in the background when stale, one read for concurrent misses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from conftest import TEST_KEY
from postroom.errors import InvalidKey, MalformedKey
from postroom.features.api_keys import service
from postroom.features.api_keys.service import KeyAuthenticator
from postroom.storage.tables import api_keys
from postroom.testing import FakeClock


class CountingDb:
    """The real Database, counting reads."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.reads = 0

    async def read(self, fn: Any) -> Any:
        self.reads += 1
        return await self.db.read(fn)


def test_concurrent_misses_share_one_read(db: Any) -> None:
    counting = CountingDb(db)
    auth = KeyAuthenticator(counting)  # type: ignore[arg-type]

    async def go() -> list[Any]:
        return await asyncio.gather(*(auth.authenticate(TEST_KEY) for _ in range(50)))

    principals = asyncio.run(go())
    assert {p.key_id for p in principals} == {TEST_KEY[:16]} and counting.reads == 1


def test_stale_answer_is_served_while_refreshing_then_blocked_key_is_refused(db: Any) -> None:
    clock = FakeClock()
    auth = KeyAuthenticator(db, clock=clock)

    async def go() -> None:
        await auth.authenticate(TEST_KEY)
        db.write_sync(lambda c: c.execute(update(api_keys).values(status="blocked")))
        clock.advance(service.CACHE_SECONDS)
        assert (await auth.authenticate(TEST_KEY)).key_id == TEST_KEY[:16]  # stale, refresh started
        for _ in range(100):
            await asyncio.sleep(0.01)
            try:
                await auth.authenticate(TEST_KEY)
            except InvalidKey:
                return
        raise AssertionError("the blocked key was never refused")

    asyncio.run(go())


def test_malformed_and_unknown(db: Any) -> None:
    auth = KeyAuthenticator(db)
    with pytest.raises(MalformedKey):
        asyncio.run(auth.authenticate(None))
    with pytest.raises(MalformedKey):
        asyncio.run(auth.authenticate("api-123"))
    with pytest.raises(InvalidKey):
        asyncio.run(auth.authenticate("api-" + "E" * 32))


def test_a_stale_answer_is_not_served_past_its_grace(db: Any) -> None:
    """Another process's change (here: straight to the database) applies within CACHE + STALE seconds."""
    clock = FakeClock()
    auth = KeyAuthenticator(db, clock=clock)

    async def go() -> None:
        await auth.authenticate(TEST_KEY)
        db.write_sync(lambda c: c.execute(update(api_keys).values(status="blocked")))
        clock.advance(service.CACHE_SECONDS - 0.1)
        assert (await auth.authenticate(TEST_KEY)).key_id == TEST_KEY[:16]  # still fresh
        clock.advance(service.STALE_SECONDS + 0.2)
        with pytest.raises(InvalidKey):
            await auth.authenticate(TEST_KEY)  # the very next call: no stale answer, no refresh race

    asyncio.run(go())


class GatedDb(CountingDb):
    """Reads wait for `gate`, so a change can land while one is in flight."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.gate = asyncio.Event()

    async def read(self, fn: Any) -> Any:
        result = await super().read(fn)
        await self.gate.wait()
        return result


def test_forget_drops_one_key_and_an_answer_read_before_it(db: Any) -> None:
    gated = GatedDb(db)
    auth = KeyAuthenticator(gated)  # type: ignore[arg-type]

    async def go() -> None:
        loading = asyncio.create_task(auth.authenticate(TEST_KEY))
        while gated.reads == 0:
            await asyncio.sleep(0.001)
        auth.forget(service.hash_key(TEST_KEY))  # e.g. blocked while the old row was being read
        gated.gate.set()
        await loading
        await auth.authenticate(TEST_KEY)
        assert gated.reads == 2  # the answer read before forget() was not cached
        await auth.authenticate(TEST_KEY)
        assert gated.reads == 2

    asyncio.run(go())


def test_principal_carries_sandbox_and_the_sending_limit(db: Any) -> None:
    settings = {"custom_ratelimit": True, "custom_ratelimit_value": 2, "custom_ratelimit_seconds": 10}
    db.write_sync(
        lambda c: c.execute(update(api_keys).values(status="sandbox", settings={**settings, "ip_pool": None}))
    )
    principal = asyncio.run(KeyAuthenticator(db).authenticate(TEST_KEY))
    assert principal.sandbox is True and principal.ratelimit == (2, 10.0)
    db.write_sync(lambda c: c.execute(update(api_keys).values(status="allowed", settings=None)))
    principal = asyncio.run(KeyAuthenticator(db).authenticate(TEST_KEY))
    assert principal.sandbox is False and principal.ratelimit is None
