"""Group commit: many writes, one transaction; a failing write does not spoil its neighbours."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select

from postroom.errors import InvalidInput, StorageUnavailable
from postroom.storage import writer as writer_module
from postroom.storage.tables import server_state


def _put(name: str) -> Any:
    def write(conn: Connection) -> str:
        conn.execute(insert(server_state).values(name=name, value="v"))
        return name

    return write


def _count(db: Any) -> int:
    return int(db.read_sync(lambda c: c.execute(select(func.count()).select_from(server_state)).scalar_one()))


def test_concurrent_writes_all_commit(db: Any) -> None:
    before = _count(db)

    async def go() -> list[str]:
        return await asyncio.gather(*(db.write(_put(f"k{i}")) for i in range(300)))

    assert sorted(asyncio.run(go())) == sorted(f"k{i}" for i in range(300))
    assert _count(db) == before + 300


def test_a_failing_write_is_isolated(db: Any) -> None:
    def bad(conn: Connection) -> None:
        conn.execute(insert(server_state).values(name="half", value="v"))
        raise InvalidInput("x", "refused")

    async def go() -> list[Any]:
        return await asyncio.gather(
            db.write(_put("a")), db.write(bad), db.write(_put("b")), return_exceptions=True
        )

    a, failure, b = asyncio.run(go())
    assert (a, b) == ("a", "b") and isinstance(failure, InvalidInput)
    names = db.read_sync(lambda c: set(c.execute(select(server_state.c.name)).scalars()))
    assert {"a", "b"} <= names and "half" not in names


def test_duplicate_key_fails_only_that_write(db: Any) -> None:
    async def go() -> list[Any]:
        await db.write(_put("dup"))
        return await asyncio.gather(db.write(_put("dup")), db.write(_put("fine")), return_exceptions=True)

    dup, fine = asyncio.run(go())
    assert isinstance(dup, Exception) and fine == "fine"
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError
        asyncio.run(db.write(_put("dup")))


def _put_many(conn: Connection, names: list[str]) -> list[str]:
    conn.execute(insert(server_state), [{"name": n, "value": "v"} for n in names])
    return names


def test_batched_writes_share_a_statement_and_a_bad_item_fails_alone(db: Any) -> None:
    asyncio.run(db.write(_put("taken")))

    async def go() -> list[Any]:
        names = [f"b{i}" for i in range(50)] + ["taken"] + [f"c{i}" for i in range(50)]
        return await asyncio.gather(*(db.write_batched(_put_many, n) for n in names), return_exceptions=True)

    results = asyncio.run(go())
    assert results[:50] == [f"b{i}" for i in range(50)] and results[51:] == [f"c{i}" for i in range(50)]
    assert isinstance(results[50], Exception)
    names = db.read_sync(lambda c: set(c.execute(select(server_state.c.name)).scalars()))
    assert {f"b{i}" for i in range(50)} | {f"c{i}" for i in range(50)} <= names


def test_writes_after_stop_fail_at_once(db: Any) -> None:
    db.writer.stop()

    async def go() -> None:
        await asyncio.wait_for(db.write(_put("late")), timeout=5)

    with pytest.raises(StorageUnavailable):
        asyncio.run(go())
    with pytest.raises(StorageUnavailable):
        asyncio.run(asyncio.wait_for(db.write_batched(_put_many, "late2"), timeout=5))
    names = db.read_sync(lambda c: set(c.execute(select(server_state.c.name)).scalars()))
    assert "late" not in names and "late2" not in names


def test_a_write_queued_behind_the_stop_is_refused_not_lost(db: Any) -> None:
    """A write that slips into the queue after the stop sentinel is answered, not left waiting."""

    async def go() -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        db.writer._queue.put(None)  # the thread ends here, as in stop()
        db.writer._thread.join(timeout=10)
        db.writer._queue.put(writer_module._Write(writer_module._single, _put("behind"), loop, future))
        db.writer.stop()
        return await asyncio.wait_for(future, timeout=5)

    with pytest.raises(StorageUnavailable):
        asyncio.run(go())
