"""Crash safety: SIGKILL a `postroom worker` in the middle of relaying 2,000 messages, start another,
and find every message delivered at least once (the duplicates are the price of at-least-once)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from tests.conftest import TEST_KEY, free_port

from postroom.app import prepare
from postroom.delivery.worker import LANE_SIZE
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.settings import load_settings
from postroom.storage.tables import deliveries

MESSAGES = 2000
KILL_AFTER = 500


class CountingPeer:
    """An SMTP peer that counts each Message-ID it is given."""

    def __init__(self) -> None:
        self.seen: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        for line in content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with self.lock:
                    self.seen[line.split(b":", 1)[1].strip().decode()] += len(envelope.rcpt_tos)
                break
        return "250 2.0.0 OK"

    def total(self) -> int:
        with self.lock:
            return sum(self.seen.values())


def _accept(settings: Any) -> None:
    db, _ = prepare(settings)
    db.start()
    account = db.write_sync(ensure_master_account)
    principal = Principal(TEST_KEY[:16], account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)

    async def go() -> None:
        for start in range(0, MESSAGES, 200):
            reqs = [
                SendRequest(sender="s@example.com", to=[f"r{i}@example.net"], subject=f"m{i}", text_body="x")
                for i in range(start, start + 200)
            ]
            await asyncio.gather(
                *(service.accept(service.prepare_send(principal, r, "127.0.0.1")) for r in reqs)
            )

    asyncio.run(go())
    db.close()
    db.engine.dispose()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "postroom", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _undelivered(settings: Any) -> int:
    db, _ = prepare(settings)
    try:
        query = select(func.count()).select_from(deliveries).where(deliveries.c.status != "delivered")
        return int(db.read_sync(lambda c: c.execute(query).scalar_one()))
    finally:
        db.engine.dispose()


def test_sigkill_mid_delivery_loses_nothing(database_url: str, tmp_path: Path) -> None:
    peer = CountingPeer()
    port = free_port()
    controller = Controller(peer, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "POSTROOM_API_KEY": TEST_KEY,
        "POSTROOM_DATA_DIR": str(tmp_path / "data"),
        "POSTROOM_DATABASE_URL": database_url,
        "POSTROOM_DELIVERY_MODE": "relay",
        "POSTROOM_RELAY_URL": f"smtp://127.0.0.1:{port}?tls=none",
        "POSTROOM_DELIVERY_LEASE": "2s",
        "POSTROOM_SQLITE_SYNCHRONOUS": "NORMAL",
        "POSTROOM_LOG_LEVEL": "warning",
    }
    settings = load_settings(env=env, toml_path=tmp_path / "none.toml")
    log = tmp_path / "worker.log"
    try:
        _accept(settings)
        first = _worker(env, log)
        deadline = time.monotonic() + 60
        while peer.total() < KILL_AFTER:
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        at_kill = peer.total()
        assert at_kill < MESSAGES, "the worker finished before it could be killed: nothing was tested"
        second = _worker(env, log)
        try:
            while _undelivered(settings):
                assert second.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                assert second.wait(timeout=20) == 0, "the worker did not stop cleanly on SIGTERM"
            finally:
                if second.poll() is None:  # never leave a worker running against the test database
                    second.kill()
                    second.wait()
        assert len(peer.seen) == MESSAGES, f"{MESSAGES - len(peer.seen)} messages were lost"
        duplicates = sum(n - 1 for n in peer.seen.values())
        print(f"killed after {at_kill} deliveries; {duplicates} duplicates out of {MESSAGES}")
        # only what the dead worker's running lanes had handed over but not yet recorded comes twice:
        # at most a lane (LANE_SIZE jobs) per relay connection, not the whole claimed batch
        assert duplicates <= LANE_SIZE * settings.mx_concurrency
    finally:
        controller.stop()
