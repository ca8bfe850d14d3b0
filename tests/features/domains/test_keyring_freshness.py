"""A DKIM key added by another door (the CLI, another process on the same database) signs a running
server's mail within seconds, without a full key reload per message."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import dkim
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from conftest import RunningServer, free_port
from postroom.cli.domains import domains
from postroom.features.domains import repo as domains_repo
from postroom.features.domains.keyring import DkimKeyring

FRESH_WITHIN = 6.0  # seconds from `postroom domains add` to mail signed with the new key


class Peer:
    """A smarthost on loopback that keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(envelope.original_content)
        return "250 2.0.0 queued"

    def wait_for(self, count: int, timeout: float = 15) -> bytes:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return self.received[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"the peer got {len(self.received)} messages, not {count}")


def _dns_of(records: dict[str, str]) -> Any:
    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        value = records.get(name.decode().rstrip("."))
        return value.encode() if value else None

    return txt


def test_a_domain_added_through_the_cli_signs_the_running_servers_mail(
    make_server: Any, database_url: str, tmp_path: Path
) -> None:
    peer = Peer()
    peer.controller.start()
    try:
        server: RunningServer = make_server(
            delivery_mode="relay", relay_url=f"smtp://127.0.0.1:{peer.controller.port}?tls=none"
        )
        server.send(sender="app@cli.example.test", to=["user@example.test"])
        assert not peer.wait_for(1).startswith(b"DKIM-Signature:")  # no key yet; the keyring is loaded

        added = CliRunner().invoke(
            domains, ["add", "cli.example.test", "--database-url", database_url, "--data-dir", str(tmp_path)]
        )
        assert added.exit_code == 0, added.output
        at = time.monotonic()
        name = re.search(r"^Name:  (\S+)$", added.output, re.M)
        value = re.search(r"^Value: (v=DKIM1.*)$", added.output, re.M)
        assert name and value, added.output
        deadline = at + FRESH_WITHIN
        signed = b""
        count = 1
        while time.monotonic() < deadline:
            count += 1
            server.send(sender="App <app@cli.example.test>", to=["user@example.test"])
            signed = peer.wait_for(count)
            if signed.startswith(b"DKIM-Signature:"):
                break
            time.sleep(0.5)
        assert signed.startswith(b"DKIM-Signature:"), "not signed within a few seconds of the CLI add"
        assert b"d=cli.example.test" in signed
        assert dkim.verify(signed, dnsfunc=_dns_of({name[1]: value[1]}))
    finally:
        peer.controller.stop()


async def test_an_unchanged_key_set_is_not_read_again(db: Any) -> None:
    """refresh() reads the keys only when their fingerprint moved: a removed and re-added domain is
    seen (a new key), an unchanged set costs one aggregate query."""
    from postroom.features.api_keys.service import ensure_master_account
    from postroom.features.domains import service

    keyring = DkimKeyring(db)
    await keyring.refresh()
    first = service.new_domain("a.example.test")
    account = db.write_sync(ensure_master_account)
    db.write_sync(lambda c: service.insert_domain(c, account, first))
    await keyring.refresh()
    key = keyring.lookup("a.example.test")
    assert key is not None
    await keyring.refresh()
    assert keyring.lookup("a.example.test") is key  # not parsed again
    db.write_sync(lambda c: domains_repo.delete_domain(c, account, "a.example.test"))
    second = service.new_domain("a.example.test")
    db.write_sync(lambda c: service.insert_domain(c, account, second))
    await keyring.refresh()
    again = keyring.lookup("a.example.test")
    assert again is not None and again is not key and again.selector == second.selector
