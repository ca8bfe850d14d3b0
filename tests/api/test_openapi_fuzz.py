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
import re
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
CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "unsupported_method",  # a method the path does not take: 405 with Allow
    ]
)
RUN_TIMEOUT = 420  # seconds for one schemathesis run; both take about two minutes at the default volume
# Operations that can lock the fuzzer's key out: its own settings and endpoints, the API allow list.
SELF_LOCKING = r"^(post_ip_allow_list|(post|patch)_api_keys_(edit|patch))$"
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
    """A capture-mode SQLite server whose fuzzing cannot reach beyond loopback."""
    srv, thread, running = start_server(
        f"sqlite:///{tmp_path / 'fuzz.sqlite3'}",
        tmp_path / "data",
        endpoint_rate_limits=False,
        dns_nameservers=nameserver,
        workers=False,  # no webhook dispatcher: the fuzzer's webhook URLs name hosts beyond loopback
    )
    assert running.settings.delivery_mode == "capture" and not running.settings.relay_url
    assert not running.settings.workers
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


def keep_loopback_allowed(server: RunningServer) -> None:
    """Put loopback on the API allow list, so that turning the list on still lets the fuzzer in."""
    for network in ("127.0.0.0/8", "::1/128"):
        r = server.post("ip_allow_list/add", {"ip_address": network, "type": "api"})
        assert r.status_code in (200, 402), r.text  # 402: it is there already


def fuzz(server: RunningServer, workdir: Path, operation_filter: list[str]) -> str:
    """One schemathesis run over the operations the filter selects; fails with its findings."""
    workdir.mkdir()
    (workdir / "schemathesis.toml").write_text(CONFIG)
    command = [
        str(schemathesis_cli()),
        "--config-file",
        str(workdir / "schemathesis.toml"),
        "run",
        server.base_url + "/v3/openapi.json",
        *operation_filter,
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
    env = {**os.environ, "POSTROOM_FUZZ_KEY": server.key}
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, (
        f"schemathesis found problems (exit {done.returncode}, {time.monotonic() - started:.0f} s,"
        f" seed {SEED}, {' '.join(operation_filter)}):\n" + failures_of(output)
    )
    return output


def operations_tested(output: str) -> int:
    match = re.search(r"Tested: (\d+)", output)
    assert match, output[-3000:]
    return int(match[1])


def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_break(
    fuzz_server: RunningServer, tmp_path: Path
) -> None:
    # The fuzzer reuses values it has seen in answers (the key's own id, the allow list's entries), so
    # it could narrow or rate-limit its own key, or turn the API allow list on without loopback, and
    # meet nothing but 403s afterwards. The operations that can do that run last, on their own.
    keep_loopback_allowed(fuzz_server)
    first = fuzz(fuzz_server, tmp_path / "main", ["--exclude-operation-id-regex", SELF_LOCKING])
    answer = fuzz_server.post("activity/search", {"limit": 1})
    assert answer.status_code == 200, f"the fuzzer locked its key out, so it tested little: {answer.text}"
    keep_loopback_allowed(fuzz_server)
    last = fuzz(fuzz_server, tmp_path / "last", ["--include-operation-id-regex", SELF_LOCKING])
    total = operations_tested(first) + operations_tested(last)
    assert total == operations(fuzz_server), first[-3000:] + last[-3000:]
