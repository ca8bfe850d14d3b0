"""SMTP ingest rate: Postfix's smtp-source against Postroom and, in the same run, a bare aiosmtpd.

Postroom runs as a user runs it (`postroom serve`, SQLite with synchronous=FULL, capture mode);
127.0.0.1 is given IP authentication through the API (smtp-source cannot AUTH). smtp-source
opens a new connection per message. After the run the stored messages are counted: every 250
must be a durable row.

Usage: python bench/smtp_ingest.py [--messages 10000] [--sessions 20] [--size 2048]
Needs: smtp-source (Debian package postfix), the postroom package installed in this interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from http_send import count_rows, free_port, log, start, stop, wait_healthy

SMTP_SOURCE = "/usr/sbin/smtp-source"


def smtp_source(port: int, messages: int, sessions: int, size: int, timeout: float) -> tuple[float, int]:
    """(seconds, exit status) of one smtp-source run of `messages` over `sessions` parallel sessions."""
    cmd = [
        SMTP_SOURCE,
        "-s",
        str(sessions),
        "-m",
        str(messages),
        "-l",
        str(size),
        "-f",
        "bench@example.com",
        "-t",
        "sink@example.com",
        "-M",
        "bench.example",
        f"127.0.0.1:{port}",
    ]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        log(f"smtp-source exited {done.returncode}: {done.stderr.strip()[:500]}")
    return elapsed, done.returncode


def wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"port {port} did not open")


def allow_loopback(http_port: int, key: str) -> None:
    body = json.dumps({"ip_address": "127.0.0.1", "description": "benchmark"}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/v3/ip_auth/edit",
        data=body,
        method="PATCH",
        headers={"X-Smtp2go-Api-Key": key},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200, r.read()


def bench_postroom(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    key = "api-" + secrets.token_hex(16).upper()
    http_port, smtp_port = free_port(), free_port()
    data_dir = workdir / "data"
    env = {**os.environ, **dict(pair.split("=", 1) for pair in args.server_env), "POSTROOM_API_KEY": key}
    cmd = [
        sys.executable,
        "-m",
        "postroom",
        "serve",
        "--data-dir",
        str(data_dir),
        "--http-port",
        str(http_port),
        "--smtp-port",
        str(smtp_port),
    ]
    proc = start(cmd, env, workdir / "postroom.log")
    try:
        wait_healthy(proc, f"http://127.0.0.1:{http_port}/healthz", workdir / "postroom.log")
        allow_loopback(http_port, key)
        smtp_source(smtp_port, min(200, args.messages), args.sessions, args.size, args.timeout)  # warm-up
        elapsed, status = smtp_source(smtp_port, args.messages, args.sessions, args.size, args.timeout)
    finally:
        stop(proc)
    rows = count_rows("", data_dir)
    return {
        "seconds": elapsed,
        "per_s": args.messages / elapsed,
        "exit": status,
        "rows": rows,
        "expected_rows": args.messages + min(200, args.messages),
    }


def bench_bare(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    port = free_port()
    proc = start(
        [sys.executable, str(Path(__file__).parent / "bare_smtp.py"), str(port)],
        dict(os.environ),
        workdir / "bare.log",
    )
    try:
        wait_port(port)
        smtp_source(port, min(200, args.messages), args.sessions, args.size, args.timeout)
        elapsed, status = smtp_source(port, args.messages, args.sessions, args.size, args.timeout)
    finally:
        stop(proc)
    return {"seconds": elapsed, "per_s": args.messages / elapsed, "exit": status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000, help="messages in the measured run")
    parser.add_argument("--sessions", type=int, default=20, help="parallel smtp-source sessions")
    parser.add_argument("--size", type=int, default=2048, help="message size in bytes")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one smtp-source run may take")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for postroom serve, e.g. POSTROOM_SQLITE_SYNCHRONOUS=NORMAL (repeatable)",
    )
    args = parser.parse_args()
    if not Path(SMTP_SOURCE).exists():
        raise SystemExit("smtp-source not found: apt-get install postfix")
    with tempfile.TemporaryDirectory(prefix="postroom-smtp-bench-") as tmp:
        workdir = Path(tmp)
        postroom = bench_postroom(args, workdir)
        bare = bench_bare(args, workdir)
    durable = postroom["rows"]["messages"] == postroom["expected_rows"]
    ratio = postroom["per_s"] / bare["per_s"]
    print(
        f"\nSMTP ingest, {args.messages} messages of {args.size} B, {args.sessions} parallel sessions, "
        "new connection per message (smtp-source)"
    )
    sync = dict(pair.split("=", 1) for pair in args.server_env).get("POSTROOM_SQLITE_SYNCHRONOUS", "FULL")
    label = f"postroom (SQLite, {sync.upper()})"
    print(f"{label:25s} {postroom['per_s']:8.0f} msg/s   ({postroom['seconds']:.1f} s)")
    print(f"bare aiosmtpd (discard)   {bare['per_s']:8.0f} msg/s   ({bare['seconds']:.1f} s)")
    print(f"ratio postroom/bare: {ratio:.2f}")
    print(
        f"durability: {postroom['rows']['messages']} messages stored, {postroom['expected_rows']} sent "
        f"(incl. warm-up) -> {'OK' if durable else 'MISMATCH'}"
    )
    print(
        json.dumps(
            {
                "bench": "smtp_ingest",
                "messages": args.messages,
                "sessions": args.sessions,
                "size": args.size,
                "postroom": postroom,
                "bare": bare,
                "ratio": round(ratio, 4),
                "server_env": args.server_env,
                "durable": durable,
            }
        )
    )
    return 0 if durable and postroom["exit"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
