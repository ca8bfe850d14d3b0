"""Test fixtures: a real Postroom server on a free loopback port, on SQLite and (when configured) PostgreSQL.

Set POSTROOM_TEST_DATABASE_URL=postgresql://… to run every server test against PostgreSQL as well;
POSTROOM_REQUIRE_POSTGRES=1 (set by .ci/run) makes its absence an error instead of a skip.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from postroom.app import build_app, prepare
from postroom.settings import load_settings
from postroom.storage.engine import normalize_url

TEST_KEY = "api-0123456789ABCDEF0123456789ABCDEF"
PG_URL = os.environ.get("POSTROOM_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REDIS_URL = os.environ.get("POSTROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis for shared rate limits (POSTROOM_TEST_REDIS_URL, default database 15 on loopback).

    Its absence skips the test, or fails it under POSTROOM_REQUIRE_ALL_TESTS=1 (set by .ci/run)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("POSTROOM_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(f"POSTROOM_REQUIRE_ALL_TESTS=1 but Redis at {REDIS_URL} does not answer: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} does not answer")
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not PG_URL:
        if os.environ.get("POSTROOM_REQUIRE_POSTGRES") == "1":
            pytest.fail("POSTROOM_REQUIRE_POSTGRES=1 but POSTROOM_TEST_DATABASE_URL is not set")
        pytest.skip("POSTROOM_TEST_DATABASE_URL is not set")
    name = f"postroom_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_pg(url: str) -> None:
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname='public' AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'postroom.sqlite3'}"
    url: str = request.getfixturevalue("pg_database")
    _empty_pg(url)
    return url


@dataclass
class RunningServer:
    base_url: str
    key: str
    settings: Any
    app: Any

    @property
    def v3(self) -> str:
        return self.base_url + "/v3/"

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, key: str | None = "default", **kwargs: Any) -> httpx.Response:
        """POST a JSON body to /v3/<path>, with the API key in the body unless key=None."""
        if isinstance(body, dict) and key is not None:
            body = {"api_key": self.key if key == "default" else key, **body}
        with self.client() as c:
            return c.post("/v3/" + path.lstrip("/"), json=body, **kwargs)

    def patch(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        """PATCH a JSON body to /v3/<path> with the key in the header."""
        with self.client() as c:
            return c.patch(
                "/v3/" + path.lstrip("/"), json=body, headers={"X-Smtp2go-Api-Key": key or self.key}
            )

    def account_key(self, endpoints: list[str] | None = None, same: bool = False) -> str:
        """A key of a new second account (or, with `same`, of the master account) with these grants."""
        from postroom.clock import utcnow
        from postroom.features.api_keys import repo as keys_repo
        from postroom.features.api_keys.service import create_key
        from postroom.ids import new_account_id

        def make(conn: Any) -> str:
            account_id = keys_repo.master_account_id(conn)
            if not same:
                account_id = new_account_id()
                keys_repo.insert_account(conn, account_id, "Other account", utcnow())
            assert account_id is not None
            return create_key(conn, account_id, endpoints or ["*"])

        key: str = self.app.state.services.db.write_sync(make)
        return key

    def send(self, **fields: Any) -> str:
        """Send a small message through /v3/email/send (fields override the defaults); its email_id."""
        body = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "subject", "text_body": "x"}
        r = self.post("email/send", {**body, **fields})
        assert r.status_code == 200, r.text
        email_id: str = r.json()["data"]["email_id"]
        return email_id

    def wait_for_events(self, email_id: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Poll /activity/search until the message has at least `count` events."""
        deadline = time.monotonic() + timeout
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            r = self.post("activity/search", {"search_email_id": email_id})
            events = r.json()["data"]["events"]
            if len(events) >= count:
                return events
            time.sleep(0.05)
        raise AssertionError(f"expected {count} events for {email_id}, got {events}")


def start_server(
    database_url: str, data_dir: Path, **overrides: Any
) -> tuple[uvicorn.Server, threading.Thread, RunningServer]:
    """A server on free loopback ports; tried again on new ports when one was taken meanwhile (free_port
    only finds a port free: another process may bind it before the server does)."""
    for attempt in range(3):
        try:
            return _start_server(database_url, data_dir, **overrides)
        except PortTaken:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class PortTaken(RuntimeError):
    pass


def _start_server(
    database_url: str, data_dir: Path, **overrides: Any
) -> tuple[uvicorn.Server, threading.Thread, RunningServer]:
    port = free_port()
    env = {"POSTROOM_API_KEY": TEST_KEY, "POSTROOM_SQLITE_SYNCHRONOUS": "NORMAL"}
    flags = {
        "http_port": port,
        "smtp_port": free_port(),
        "data_dir": data_dir,
        "database_url": database_url,
        **overrides,
    }
    settings = load_settings(flags=flags, env=env, toml_path=data_dir / "none.toml")
    db, _ = prepare(settings)
    app = build_app(settings, db)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", loop="uvloop", http="httptools"
    )
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:  # uvicorn exits (SystemExit) when its port is taken
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() and "http_port" not in overrides and "smtp_port" not in overrides:
            db.engine.dispose()
            raise PortTaken(f"the server could not bind its ports: {errors}")
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"server did not start: {errors}")
        time.sleep(0.01)
    return server, thread, RunningServer(f"http://127.0.0.1:{port}", TEST_KEY, settings, app)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    srv, thread, running = start_server(database_url, tmp_path / "data")
    yield running
    srv.should_exit = True
    thread.join(timeout=15)
    running.app.state.services.db.engine.dispose()


@pytest.fixture
def make_server(database_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start servers with settings overrides (e.g. a short retry schedule); all stopped at the end."""
    started: list[tuple[uvicorn.Server, threading.Thread, RunningServer]] = []

    def make(**overrides: Any) -> RunningServer:
        started.append(start_server(database_url, tmp_path / f"data{len(started)}", **overrides))
        return started[-1][2]

    yield make
    for srv, thread, running in started:
        srv.should_exit = True
        thread.join(timeout=15)
        running.app.state.services.db.engine.dispose()


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """A migrated, bootstrapped Database (no HTTP server) for service- and queue-level tests."""
    env = {"POSTROOM_API_KEY": TEST_KEY, "POSTROOM_SQLITE_SYNCHRONOUS": "NORMAL"}
    settings = load_settings(
        flags={"data_dir": tmp_path / "data", "database_url": database_url}, env=env, toml_path=tmp_path / "x"
    )
    database, _ = prepare(settings)
    database.start()
    yield database
    database.close()
