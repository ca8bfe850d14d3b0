"""A Node.js receiver built with express and express.urlencoded() (as SMTP2GO users write them) parses
Postroom's form payloads and finds every field."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import TEST_KEY, RunningServer
from envelope_checks import ok
from npm_packages import npm_package

SCRIPT = Path(__file__).with_name("express_receiver.js")
SIM = "simulator.postroom.test"


@pytest.fixture(scope="session")
def express() -> Path:
    return npm_package("express", "4.22.3", "npm-express")


@pytest.fixture
def express_receiver(express: Path) -> Iterator[tuple[int, queue.Queue[dict[str, Any]]]]:
    node = subprocess.Popen(
        ["node", str(SCRIPT), str(express)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        assert node.stdout is not None
        for line in node.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    try:
        port = int(lines.get(timeout=30)["port"])
        yield port, lines
    finally:
        node.terminate()
        node.wait(timeout=10)


def test_express_urlencoded_reads_every_field(
    server: RunningServer, express_receiver: tuple[int, queue.Queue[dict[str, Any]]]
) -> None:
    port, posts = express_receiver
    url = f"http://127.0.0.1:{port}/hook"
    ok(
        server.post(
            "webhook/add",
            {"url": url, "events": ["processed", "delivered", "bounce"], "headers": ["X-Campaign"]},
        )
    )
    email_id = server.send(
        to=[f"delivered@{SIM}", f"hardbounce@{SIM}"],
        custom_headers=[{"header": "X-Campaign", "value": "spring"}],
    )
    bodies = [posts.get(timeout=20)["body"] for _ in range(3)]
    processed = next(b for b in bodies if b["event"] == "processed")
    assert sorted(processed["recipients"]) == [
        f"delivered@{SIM}",
        f"hardbounce@{SIM}",
    ]  # a list, as express reads it
    for body in bodies:
        assert (
            body["email_id"] == email_id
            and body["sender"] == "s@example.com"
            and body["auth"] == TEST_KEY[:16]
        )
        assert body["subject"] == body["Subject"] == "subject" and body["message-id"] == body["Message-Id"]
        assert (
            body["from_address"] == "s@example.com"
            and body["X-Campaign"] == "spring"
            and len(body["id"]) == 32
        )
        assert body["time"].endswith("Z") and body["sendtime"].endswith("+00:00")
    delivered = next(b for b in bodies if b["event"] == "delivered")
    assert (
        delivered["rcpt"] == f"delivered@{SIM}"
        and delivered["host"]
        and delivered["message"].startswith("250")
    )
    bounce = next(b for b in bodies if b["event"] == "bounce")
    assert bounce["bounce"] == "hard" and bounce["context"] == f"RCPT TO:<hardbounce@{SIM}>"
