"""Group commit: many writes, one transaction; a failing write does not spoil its neighbours."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select

from postroom.errors import InvalidInput
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
