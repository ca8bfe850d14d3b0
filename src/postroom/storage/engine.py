"""Engine creation for SQLite (WAL, real transactions) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from postroom.storage.fold import SQL_FUNCTION, fold


def normalize_url(url: str) -> str:
    """Map postgresql:// and postgres:// to the psycopg 3 driver; leave others as given."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_connect_hooks(engine: Engine, synchronous: str) -> None:
    """Let SQLAlchemy, not pysqlite, control transactions (so SAVEPOINT works), set WAL pragmas, and
    register the case folding that search uses (storage/fold.py)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.create_function(SQL_FUNCTION, 1, fold, deterministic=True)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def create_db_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine for the URL; SQLite files get WAL and a busy timeout, PostgreSQL a pool."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, pool_size=8, max_overflow=8, json_serializer=_json, connect_args={"check_same_thread": False}
        )
        _sqlite_connect_hooks(engine, sqlite_synchronous.upper())
        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, json_serializer=_json)
