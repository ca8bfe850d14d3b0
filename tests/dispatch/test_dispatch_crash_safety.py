"""SIGKILL a `postroom worker` while it posts webhook notifications, start another, and find every
notification received at least once (a duplicate carries the same `id`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import TEST_KEY
from tests.dispatch.webhook_receiver import receiver

from postroom.app import prepare
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.features.webhooks.schemas import WebhookAddRequest
from postroom.features.webhooks.service import WebhookService
from postroom.settings import load_settings

MESSAGES = 300
KILL_AFTER = 40


def _accept_with_webhook(settings: object, url: str) -> None:
    db, _ = prepare(settings)  # type: ignore[arg-type]
    db.start()
    account = db.write_sync(ensure_master_account)
    principal = Principal(TEST_KEY[:16], account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)

    async def go() -> None:
        hooks = WebhookService(db, allow_private=True)
        await hooks.add(account, WebhookAddRequest(url=url, events=["processed"], output_format="json"))
        reqs = [
            SendRequest(sender="s@example.com", to=[f"r{i}@example.net"], subject=f"m{i}", text_body="x")
            for i in range(MESSAGES)
        ]
        await asyncio.gather(*(service.accept(service.prepare_send(principal, r, "127.0.0.1")) for r in reqs))

    asyncio.run(go())
    db.close()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "postroom", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def test_sigkill_mid_dispatch_loses_no_notification(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "POSTROOM_API_KEY": TEST_KEY,
        "POSTROOM_DATA_DIR": str(tmp_path / "data"),
        "POSTROOM_DATABASE_URL": database_url,
        "POSTROOM_DELIVERY_LEASE": "2s",
        "POSTROOM_WEBHOOK_RETRY_SCHEDULE": "1s..60s",
        "POSTROOM_SQLITE_SYNCHRONOUS": "NORMAL",
        "POSTROOM_LOG_LEVEL": "warning",
    }
    settings = load_settings(env=env, toml_path=tmp_path / "none.toml")
    log = tmp_path / "worker.log"
    with receiver() as rec:
        rec.delay = 0.2  # slow enough that the kill lands while posts are in flight
        _accept_with_webhook(settings, rec.url)
        first = _worker(env, log)
        processes = [first]
        try:
            deadline = time.monotonic() + 60
            while len(rec.received) < KILL_AFTER:
                assert first.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.01)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            at_kill = len(rec.received)
            second = _worker(env, log)
            processes.append(second)
            seen: set[str] = set()
            while len(seen) < MESSAGES:
                assert second.poll() is None and time.monotonic() < deadline, log.read_text()
                with rec.lock:
                    seen = {json.loads(p.body)["id"] for p in rec.received}
                time.sleep(0.1)
            emails = {json.loads(p.body)["email_id"] for p in rec.received}
            assert len(emails) == MESSAGES and at_kill < MESSAGES
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0, "the worker did not stop cleanly on SIGTERM"
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    print(f"killed after {at_kill} posts; {len(rec.received) - MESSAGES} posted twice")
