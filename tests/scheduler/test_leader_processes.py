"""Two `postroom worker` processes on one PostgreSQL database: one scheduler leader at a time, and the
other takes over within the lease after the leader is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from tests.conftest import TEST_KEY, _empty_pg

from postroom.storage.engine import normalize_url
from postroom.storage.migrate import upgrade
from postroom.storage.tables import leases

LEASE_SECONDS = 3


@pytest.fixture
def pg_url(pg_database: str) -> str:
    engine = create_engine(normalize_url(pg_database))
    try:
        upgrade(engine)  # migrated here, so that the workers' own start-up migrates nothing
    finally:
        engine.dispose()
    _empty_pg(pg_database)
    return pg_database


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "postroom", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _holder_pid(url: str) -> int | None:
    """The pid in the scheduler lease's holder (host:pid:random) while the lease is live, else None."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == "scheduler")).first()
            now = conn.exec_driver_sql("SELECT (now() AT TIME ZONE 'utc')").scalar()
    finally:
        engine.dispose()
    if row is None or not row.holder or row.expires_at < now:
        return None
    return int(row.holder.split(":")[1])


def _wait_for(condition: object, timeout: float, what: str, logs: Path) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s; log:\n{logs.read_text()}")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # never leave a worker running against the test database
        if process.poll() is None:
            process.kill()
            process.wait()


def test_one_leader_and_a_takeover_after_sigkill(
    pg_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    env = {
        **os.environ,
        "POSTROOM_API_KEY": TEST_KEY,
        "POSTROOM_DATA_DIR": str(tmp_path / "data"),
        "POSTROOM_DATABASE_URL": pg_url,
        "POSTROOM_SCHEDULER_LEASE": f"{LEASE_SECONDS}s",
        "POSTROOM_LOG_LEVEL": "warning",
    }
    log = tmp_path / "workers.log"
    first = _worker(env, log)
    processes.append(first)
    _wait_for(lambda: _holder_pid(pg_url) == first.pid, 30, "the first worker did not lead", log)
    second = _worker(env, log)
    processes.append(second)
    time.sleep(1)  # the second is up and asks for the lease every tick
    deadline = time.monotonic() + 2 * LEASE_SECONDS
    while time.monotonic() < deadline:  # while the leader lives, the lease stays with it
        assert _holder_pid(pg_url) == first.pid and second.poll() is None, log.read_text()
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    took = _wait_for(lambda: _holder_pid(pg_url) == second.pid, 4 * LEASE_SECONDS, "no takeover", log)
    # the dead leader's lease runs out after at most LEASE_SECONDS; the survivor asks every tick (1 s)
    assert took <= LEASE_SECONDS + 2, f"the takeover took {took:.1f} s"
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=20) == 0, "the worker did not stop cleanly on SIGTERM"
    assert _holder_pid(pg_url) is None  # a clean stop gives the lease up
