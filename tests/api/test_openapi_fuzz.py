"""Schemathesis over a live server's /v3/openapi.json: no 5xx, and every answer as the document says.

Every operation of the document (each canonical path, alias and method) gets a bounded number of
generated requests, valid and invalid, authenticated through the document's own security scheme.
A new endpoint in the registry is fuzzed here without any change to this file.

The server is a real one on a loopback port, on SQLite, in capture delivery mode (nothing is sent
anywhere), and its DNS lookups (domain verification) go to a loopback nameserver that knows no
name, so no generated request reaches outside the machine. Endpoint rate limits are off so that
the fuzzer meets the endpoints themselves, not 429s.

POSTROOM_FUZZ_EXAMPLES (examples per operation) and POSTROOM_FUZZ_SEED change the volume and seed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import httpx
import pytest

from conftest import RunningServer, start_server

EXAMPLES = int(os.environ.get("POSTROOM_FUZZ_EXAMPLES", "30"))
SEED = os.environ.get("POSTROOM_FUZZ_SEED", "20261204")
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
RUN_TIMEOUT = 420  # seconds; the run takes a few minutes at the default volume
# The key comes from the document's ApiKeyHeader scheme, not a blanket header: the scheme is tested too.
CONFIG = """
[auth.openapi.ApiKeyHeader]
api_key = "${POSTROOM_FUZZ_KEY}"
"""


def schemathesis_cli() -> Path:
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        found = shutil.which("schemathesis")
        if found is None:
            pytest.fail("schemathesis is not installed (it is in the `test` extras of pyproject.toml)")
        cli = Path(found)
    return cli


@pytest.fixture
def nameserver() -> Iterator[str]:
    """host:port of a UDP nameserver on loopback answering NXDOMAIN to everything, at once (a closed
    port would make each domain check wait for its timeout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
                reply = dns.message.make_response(dns.message.from_wire(wire))
            except (TimeoutError, dns.exception.DNSException):
                continue
            reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def fuzz_server(tmp_path: Path, nameserver: str) -> Iterator[RunningServer]:
    """A capture-mode SQLite server whose fuzzing cannot reach beyond loopback or lock itself out."""
    srv, thread, running = start_server(
        f"sqlite:///{tmp_path / 'fuzz.sqlite3'}",
        tmp_path / "data",
        endpoint_rate_limits=False,
        dns_nameservers=nameserver,
    )
    assert running.settings.delivery_mode == "capture" and not running.settings.relay_url
    # The fuzzer may well turn the API allow list on; loopback stays on it so later requests still count.
    for network in ("127.0.0.0/8", "::1/128"):
        r = running.post("ip_allow_list/add", {"ip_address": network, "type": "api"})
        assert r.status_code == 200, r.text
    yield running
    srv.should_exit = True
    thread.join(timeout=15)
    running.app.state.services.db.engine.dispose()


def operations(server: RunningServer) -> int:
    with httpx.Client(base_url=server.base_url) as c:
        spec = c.get("/v3/openapi.json").json()
    return sum(len(item) for item in spec["paths"].values())


def failures_of(output: str) -> str:
    """The part of schemathesis's output a reader needs: its FAILURES section and the summary."""
    start = output.find("FAILURES")
    return output[start - 40 :] if start >= 0 else output[-6000:]


def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_break(
    fuzz_server: RunningServer, tmp_path: Path
) -> None:
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    command = [
        str(schemathesis_cli()),
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        fuzz_server.base_url + "/v3/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ]
    env = {**os.environ, "POSTROOM_FUZZ_KEY": fuzz_server.key}
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"schemathesis found problems (exit {done.returncode}, {elapsed:.0f} s, seed {SEED}):\n"
        + failures_of(output)
    )
    total = operations(fuzz_server)
    assert f"Tested: {total}" in output, (
        f"not every one of the {total} operations was tested:\n{output[-3000:]}"
    )
