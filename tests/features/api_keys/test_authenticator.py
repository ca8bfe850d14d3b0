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


def test_stale_answer_is_served_while_refreshing_then_blocked_key_is_refused(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "CACHE_SECONDS", 0.0)
    auth = KeyAuthenticator(db)

    async def go() -> None:
        await auth.authenticate(TEST_KEY)
        db.write_sync(lambda c: c.execute(update(api_keys).values(status="blocked")))
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
