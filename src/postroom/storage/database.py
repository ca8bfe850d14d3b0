"""The storage facade services use: group-committed writes and thread-pooled reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, text

from postroom.storage.engine import create_db_engine, is_sqlite
from postroom.storage.writer import GroupWriter

T = TypeVar("T")


class Database:
    """Owns the engine and the writer thread of one process."""

    def __init__(self, url: str, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine: Engine = create_db_engine(url, sqlite_synchronous)
        self.writer = GroupWriter(self.engine)
        self.is_sqlite = is_sqlite(self.engine)

    def start(self) -> None:
        self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self.engine.dispose()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """Run fn inside a committed transaction; returns after the commit is durable."""
        return await self.writer.run(fn)

    async def write_batched(self, many: Callable[[Connection, list[Any]], Sequence[T]], item: Any) -> T:
        """Queue item for `many`; concurrent items share one call (one multi-row statement) and commit."""
        return await self.writer.run_batched(many, item)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run fn on a pooled connection in a worker thread."""
        return await anyio.to_thread.run_sync(self.read_sync, fn)

    def read_sync(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def write_sync(self, fn: Callable[[Connection], T]) -> T:
        """A direct transaction, for start-up and CLI commands (no event loop needed)."""
        with self.engine.connect() as conn:
            conn.info["writer"] = True
            with conn.begin():
                return fn(conn)

    async def ping(self) -> bool:
        def _ping(conn: Connection) -> bool:
            return conn.execute(text("SELECT 1")).scalar() == 1

        try:
            return await self.read(_ping)
        except Exception:
            return False
