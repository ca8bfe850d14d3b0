"""Statistics and activity at scale: p95 latency of /stats/email_summary, /stats/email_history and
/activity/search (a date range with an event type) with --events events in the database.

The events are generated in bulk through the real event path (events/repo.append, which keeps the
rollups), spread over 30 days, 20 senders and 4 sender identities, in a fresh database (SQLite by
default, or --database-url). Then `postroom serve` runs on it and each endpoint is asked --requests
times, one request at a time. Prints a table and, as the last line, one JSON object. Loopback only.

    python bench/stats_scale.py --events 1000000
    python bench/stats_scale.py --events 1000000 --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

KEY = "api-0123456789ABCDEF0123456789ABCDEF"
TOKENS = (
    ["processed"] * 10
    + ["delivered"] * 9
    + ["soft-bounced", "hard-bounced", "opened", "opened", "clicked", "spam"]
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(database_url: str, data_dir: Path, count: int) -> float:
    from sqlalchemy import insert

    from postroom.app import prepare
    from postroom.clock import utcnow
    from postroom.events import repo as event_log
    from postroom.features.api_keys.service import ensure_master_account
    from postroom.settings import load_settings
    from postroom.storage.tables import messages

    settings = load_settings(
        flags={"data_dir": data_dir, "database_url": database_url},
        env={"POSTROOM_API_KEY": KEY},
        toml_path=data_dir / "x",
    )
    db, _ = prepare(settings)
    account = db.write_sync(ensure_master_account)
    rng = random.Random(7)
    now = utcnow()
    started = time.perf_counter()
    per_message = 3
    batch = 5000
    made = 0
    while made < count:
        rows: list[dict[str, Any]] = []
        msgs: list[dict[str, Any]] = []
        while len(rows) < batch and made + len(rows) < count:
            email_id = f"b{made + len(rows):011d}"
            at = now - timedelta(seconds=rng.randrange(30 * 86400))
            sender = f"sender{rng.randrange(20)}@domain{rng.randrange(5)}.example"
            msgs.append(
                {
                    "email_id": email_id,
                    "account_id": account,
                    "username": f"api-USER{rng.randrange(4):08d}",
                    "created_at": at,
                    "source": "api",
                    "client_ip": "127.0.0.1",
                    "sender": sender,
                    "from_header": sender,
                    "to_addrs": [],
                    "cc_addrs": [],
                    "bcc_addrs": [],
                    "reply_to": "",
                    "subject": "bench",
                    "size": 2000,
                    "attachments": [],
                    "raw": b"x",
                }
            )
            for n in range(per_message):
                rows.append(
                    {
                        "account_id": account,
                        "email_id": email_id,
                        "delivery_id": None,
                        "recipient": f"r{rng.randrange(1000)}@example.net",
                        "event": "processed" if n == 0 else rng.choice(TOKENS),
                        "created_at": at + timedelta(seconds=n),
                        "smtp_response": "",
                        "host": "",
                        "reason": "",
                    }
                )

        def write(conn: Any, msgs: list[dict[str, Any]] = msgs, rows: list[dict[str, Any]] = rows) -> None:
            conn.execute(insert(messages), msgs)
            event_log.append(conn, rows)

        db.write_sync(write)
        made += len(rows)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values)


def measure(base: str, path: str, body: dict[str, Any], requests: int) -> dict[str, float]:
    times = []
    with httpx.Client(base_url=base, timeout=60, headers={"X-Smtp2go-Api-Key": KEY}) as client:
        client.post(path, json=body).raise_for_status()  # warm
        for _ in range(requests):
            started = time.perf_counter()
            r = client.post(path, json=body)
            times.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(p95(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="≤ 5,000,000")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    count = max(1000, min(args.events, 5_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = args.database_url or f"sqlite:///{data / 'bench.sqlite3'}"
        fill_s = fill(url, data, count)
        port = free_port()
        env = {
            **os.environ,
            "POSTROOM_API_KEY": KEY,
            "POSTROOM_ENDPOINT_RATE_LIMITS": "off",
            "POSTROOM_WORKERS": "false",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "postroom",
                "serve",
                "--data-dir",
                tmp,
                "--database-url",
                url,
                "--http-port",
                str(port),
                "--smtp-port",
                "0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            today = time.strftime("%Y-%m-%d", time.gmtime())
            week_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400))
            results = {
                "/stats/email_summary": measure(base, "/v3/stats/email_summary", {}, args.requests),
                "/stats/email_history": measure(base, "/v3/stats/email_history", {}, args.requests),
                "/stats/email_history by domain": measure(
                    base, "/v3/stats/email_history", {"group_by": "domain"}, args.requests
                ),
                "/activity/search (7 days, bounces)": measure(
                    base,
                    "/v3/activity/search",
                    {
                        "start_date": week_ago,
                        "end_date": today,
                        "event_types": ["hard-bounced"],
                        "limit": 100,
                    },
                    args.requests,
                ),
            }
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{count:,} events generated in {fill_s:.1f} s ({count / fill_s:,.0f}/s through events/repo.append)"
    )
    print(f"{'endpoint':40}{'p50 ms':>10}{'p95 ms':>10}")
    for name, figures in results.items():
        print(f"{name:40}{figures['p50_ms']:>10}{figures['p95_ms']:>10}")
    print(
        json.dumps(
            {
                "events": count,
                "database": "postgresql" if args.database_url else "sqlite",
                "fill_seconds": round(fill_s, 1),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
