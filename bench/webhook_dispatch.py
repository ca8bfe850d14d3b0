"""Webhook dispatch throughput: notifications posted per second by Postroom's dispatcher, against the
same HTTP client library (httpx) posting the same number of bodies to the same receiver directly.

One run: a fresh database (SQLite by default, or --database-url), one JSON webhook to a receiver on
loopback (bench/webhook_receiver_app.py, its own process), and --messages messages written through
the real send path, each with its `processed` event and then a `delivered` event (two notifications
per message, which must arrive in that order: the receiver counts any that do not). The dispatcher
then drains the outbox; the reference posts as many bodies of the same size with httpx at the same
concurrency. Prints a table and, as the last line, one JSON object.

    python bench/webhook_dispatch.py --messages 5000
    python bench/webhook_dispatch.py --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
CONCURRENCY = 16  # the dispatcher's connection limit (dispatch/sender.py CONNECTIONS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def receiver_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as r:
        stats: dict[str, int] = json.loads(r.read())
    return stats


def start_receiver() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE / "webhook_receiver_app.py"), str(port)])
    deadline = time.monotonic() + 20
    while True:
        try:
            receiver_stats(port)
            return process, port
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def postroom_run(database_url: str, data_dir: Path, url: str, messages: int) -> tuple[int, float, int]:
    from sqlalchemy import func, select, update

    from postroom.app import prepare
    from postroom.clock import utcnow
    from postroom.dispatch.schedule import RetrySchedule
    from postroom.dispatch.sender import HttpxSender
    from postroom.dispatch.worker import Dispatcher
    from postroom.events import repo as event_log
    from postroom.features.api_keys.service import Principal, ensure_master_account
    from postroom.features.email.schemas import SendRequest
    from postroom.features.email.service import EmailService
    from postroom.features.webhooks.schemas import WebhookAddRequest
    from postroom.features.webhooks.service import WebhookService
    from postroom.settings import load_settings
    from postroom.storage.tables import deliveries, webhook_notifications

    settings = load_settings(
        flags={"data_dir": data_dir, "database_url": database_url}, env={}, toml_path=data_dir / "x"
    )
    db, _ = prepare(settings)
    db.start()
    account = db.write_sync(ensure_master_account)
    await WebhookService(db, allow_private=True).add(
        account, WebhookAddRequest(url=url, events=["processed", "delivered"], output_format="json")
    )
    email = EmailService(db, 50 * 1024 * 1024)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    for start in range(0, messages, 500):
        reqs = [
            SendRequest(
                sender="s@example.com", to=[f"r{i}@example.net"], subject=f"m{i}", text_body="x" * 200
            )
            for i in range(start, min(messages, start + 500))
        ]
        await asyncio.gather(*(email.accept(email.prepare_send(principal, r, "127.0.0.1")) for r in reqs))

    def delivered(conn: Any) -> None:  # what the delivery worker records: a `delivered` event per delivery
        rows = conn.execute(
            select(deliveries.c.id, deliveries.c.email_id, deliveries.c.account_id, deliveries.c.recipient)
        ).all()
        now = utcnow()
        event_log.append(
            conn,
            [
                {
                    "account_id": r.account_id,
                    "email_id": r.email_id,
                    "delivery_id": r.id,
                    "recipient": r.recipient,
                    "event": "delivered",
                    "created_at": now,
                    "smtp_response": "250 2.0.0 OK",
                    "host": "mx.example.net [192.0.2.7]",
                    "reason": "",
                }
                for r in rows
            ],
        )
        conn.execute(update(deliveries).values(status="delivered"))

    db.write_sync(delivered)
    total = db.read_sync(
        lambda c: c.execute(select(func.count()).select_from(webhook_notifications)).scalar_one()
    )
    dispatcher = Dispatcher(
        db, HttpxSender(allow_private=True), RetrySchedule.parse("1s..60s"), lease=timedelta(minutes=5)
    )
    started = time.perf_counter()
    rounds = 0
    while True:
        rounds += 1
        if await dispatcher.run_once() == 0:
            pending = db.read_sync(
                lambda c: c.execute(
                    select(func.count()).where(webhook_notifications.c.state == "pending")
                ).scalar_one()
            )
            if not pending:
                break
    elapsed = time.perf_counter() - started
    db.close()
    return int(total), elapsed, rounds


async def reference_run(url: str, count: int, body_size: int) -> float:
    bodies = [
        json.dumps(
            {
                "event": "processed" if i % 2 == 0 else "delivered",
                "email_id": f"e{i // 2}",
                "pad": "x" * body_size,
            }
        ).encode()
        for i in range(count)
    ]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def post(body: bytes) -> None:
            async with semaphore:
                r = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                r.raise_for_status()

        started = time.perf_counter()
        half = (
            count // 2
        )  # the processed half first, then the delivered half, as the dispatcher's order allows
        await asyncio.gather(*(post(b) for b in bodies[0::2][:half]))
        await asyncio.gather(*(post(b) for b in bodies[1::2][:half]))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--messages", type=int, default=5000, help="messages (two notifications each); ≤ 100000"
    )
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    messages = max(1, min(args.messages, 100000))
    receiver, port = start_receiver()
    url = f"http://127.0.0.1:{port}/hook"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
            count, elapsed, rounds = asyncio.run(postroom_run(database_url, Path(tmp), url, messages))
        stats = receiver_stats(port)
        ref_receiver, ref_port = start_receiver()
        try:
            ref_elapsed = asyncio.run(reference_run(f"http://127.0.0.1:{ref_port}/hook", count, 600))
        finally:
            ref_receiver.terminate()
            ref_receiver.wait()
    finally:
        receiver.terminate()
        receiver.wait()
    rate, ref_rate = count / elapsed, count / ref_elapsed
    print(f"{'':28}{'notifications':>14}{'seconds':>10}{'per second':>12}")
    print(f"{'Postroom dispatcher':28}{count:>14}{elapsed:>10.2f}{rate:>12.0f}   ({rounds} claim rounds)")
    print(f"{'httpx posting directly':28}{count:>14}{ref_elapsed:>10.2f}{ref_rate:>12.0f}")
    print(f"ratio {rate / ref_rate:.2f}; received {stats['posts']}, out of order {stats['out_of_order']}")
    print(
        json.dumps(
            {
                "notifications": count,
                "postroom_per_s": round(rate),
                "reference_per_s": round(ref_rate),
                "ratio": round(rate / ref_rate, 3),
                "received": stats["posts"],
                "out_of_order": stats["out_of_order"],
                "database": "postgresql" if args.database_url else "sqlite",
            }
        )
    )


if __name__ == "__main__":
    main()
