"""The whole path in relay mode: API → queue → worker → a real SMTP peer on loopback.

DKIM signatures are verified with dkimpy against the public key served by a real DNS server
(dnsmasq on a loopback port); retries follow a short schedule; bounces suppress.
"""

from __future__ import annotations

import re
import smtplib
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import dkim
import dns.message
import dns.query
import dns.rdatatype
from aiosmtpd.controller import Controller
from sqlalchemy import select
from tests.conftest import TEST_KEY, free_port
from tests.delivery.peers import dnsmasq, make_certificates, postfix

from postroom.app import prepare
from postroom.features.api_keys import repo as keys_repo
from postroom.features.domains.service import insert_domain, new_domain
from postroom.settings import load_settings
from postroom.storage.tables import feedback_messages, suppressions


class Peer:
    """A threaded aiosmtpd peer: `replies[recipient]` is a list of RCPT replies, one per attempt
    (the last repeats); unknown recipients get 250. Records every accepted message."""

    def __init__(self, replies: dict[str, list[str]] | None = None) -> None:
        self.replies = replies or {}
        self.tries: dict[str, list[datetime]] = {}
        self.received: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            tries = self.tries.setdefault(address, [])
            tries.append(datetime.now())
            script = self.replies.get(address, ["250 2.1.5 OK"])
            reply = script[min(len(tries), len(script)) - 1]
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 queued"


def _relay_settings(peer: Peer, **extra: str) -> dict[str, Any]:
    return {
        "delivery_mode": "relay",
        "relay_url": f"smtp://127.0.0.1:{peer.controller.port}?tls=none",
        "return_path_domain": "rp.example.test",
        **extra,
    }


def _wait(server: Any, email_id: str, names: set[str], timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = server.post("activity/search", {"search_email_id": email_id}).json()["data"]["events"]
        if names <= {e["event"] for e in found} or time.monotonic() > deadline:
            return list(reversed(found))  # oldest first
        time.sleep(0.1)


def test_relayed_mail_is_dkim_signed_with_a_key_published_in_dns_and_has_a_verp_return_path(
    make_server: Any, database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        flags={"data_dir": tmp_path / "data0", "database_url": database_url},
        env={"POSTROOM_API_KEY": TEST_KEY},
        toml_path=tmp_path / "none.toml",
    )
    db, _ = prepare(settings)
    domain = new_domain("mail.example.test")
    record = db.write_sync(lambda c: insert_domain(c, keys_repo.master_account_id(c) or "", domain))
    db.engine.dispose()
    value = record.dkim_record_value
    chunks = ",".join(value[i : i + 255] for i in range(0, len(value), 255))
    peer = Peer()
    peer.controller.start()
    try:
        with dnsmasq([f"--txt-record={record.dkim_record_name},{chunks}"]) as (host, port):
            server = make_server(**_relay_settings(peer))
            email_id = server.send(sender="App <app@mail.example.test>", to=["user@example.test"])
            found = _wait(server, email_id, {"delivered"})
            delivered = [e for e in found if e["event"] == "delivered"]
            assert delivered and delivered[0]["smtp_response"].startswith("250 2.0.0")
            (mail_from, rcpt_tos, data) = peer.received[0]
            assert rcpt_tos == ["user@example.test"]
            assert re.fullmatch(r"bounces\+\d+-[0-9a-f]{10}@rp\.example\.test", mail_from)
            assert data.startswith(b"DKIM-Signature:") and b"d=mail.example.test" in data

            def from_dns(name: bytes, timeout: int = 5) -> bytes:
                query = dns.message.make_query(name.decode().rstrip("."), dns.rdatatype.TXT)
                answer = dns.query.udp(query, host, port=port, timeout=timeout)
                return b"".join(s for rrset in answer.answer for r in rrset for s in r.strings)

            assert dkim.verify(data, dnsfunc=from_dns)
            assert not dkim.verify(data.replace(b"subject", b"Subject"), dnsfunc=from_dns)
    finally:
        peer.controller.stop()


def test_deferrals_follow_the_retry_schedule_and_a_hard_bounce_suppresses(make_server: Any) -> None:
    peer = Peer(
        {
            "later@example.test": ["451 4.2.0 try again", "451 4.2.0 try again", "250 2.1.5 OK"],
            "gone@example.test": ["550 5.1.1 no such user"],
        }
    )
    peer.controller.start()
    try:
        server = make_server(**_relay_settings(peer, retry_schedule="1s,2s"))
        email_id = server.send(to=["later@example.test", "gone@example.test"])
        found = _wait(server, email_id, {"delivered", "hard-bounced"})
        later = [e["event"] for e in found if e["recipient"] == "later@example.test"]
        assert later == ["processed", "soft-bounced", "soft-bounced", "delivered"]
        tries = peer.tries["later@example.test"]
        assert (tries[1] - tries[0]).total_seconds() >= 1 and (tries[2] - tries[1]).total_seconds() >= 2
        gone = [e for e in found if e["recipient"] == "gone@example.test" and e["event"] == "hard-bounced"]
        assert gone[0]["smtp_response"] == "550 5.1.1 no such user" and gone[0]["host"] == "127.0.0.1"
        db = server.app.state.services.db
        rows = db.read_sync(
            lambda c: list(c.execute(select(suppressions.c.email_address, suppressions.c.type)))
        )
        assert [tuple(r) for r in rows] == [("gone@example.test", "bounce")]
        refused = server.post(
            "email/send",
            {"sender": "s@example.com", "to": ["gone@example.test"], "subject": "s", "text_body": "x"},
        )
        assert refused.json()["data"]["failed"] == 1
        processed = next(
            e for e in found if e["event"] == "processed" and e["recipient"] == "later@example.test"
        )
        assert [a["smtpresponse"][:3] for a in processed["delivery_attempts"]] == ["451", "451", "250"]
    finally:
        peer.controller.stop()


def test_mx_mode_looks_up_mx_hosts_in_dns_and_falls_back_when_the_first_is_down(make_server: Any) -> None:
    peer = Peer()
    peer.controller.start()
    records = [
        "--mx-host=example.test,mx1.example.test,10",
        "--mx-host=example.test,mx2.example.test,20",
        "--host-record=mx1.example.test,127.0.0.2",  # nothing listens there
        "--host-record=mx2.example.test,127.0.0.1",
    ]
    try:
        with dnsmasq(records) as (host, port):
            server = make_server(
                delivery_mode="mx",
                dns_nameservers=f"{host}:{port}",
                mx_port=peer.controller.port,
                delivery_timeout=5,
                require_verified_sender="false",  # on by default in mx mode; tested in tests/features/domains
            )
            email_id = server.send(to=["user@example.test"])
            found = _wait(server, email_id, {"delivered"})
            delivered = [e for e in found if e["event"] == "delivered"]
            assert [e["host"] for e in delivered] == ["mx2.example.test"]
            assert [r for _, r, _ in peer.received] == [["user@example.test"]]
            nxdomain = server.send(to=["user@nowhere.test"])
            bounced = _wait(server, nxdomain, {"hard-bounced"})
            assert [e["event"] for e in bounced] == ["processed", "hard-bounced"]
    finally:
        peer.controller.stop()


def test_a_postfix_bounce_comes_back_as_a_dsn_and_becomes_a_hard_bounce(
    make_server: Any, tmp_path: Path
) -> None:
    """Postroom relays to Postfix, which accepts the mail and bounces it later (as a real MX does);
    Postfix's DSN goes to the VERP return path, routed to Postroom's SMTP port, and is matched."""
    smtp_port = free_port()
    final_hop = Peer({"someone@bounce.example.test": ["550 5.1.1 mailbox unavailable"]})
    final_hop.controller.start()
    extra = """
relay_domains = bounce.example.test
transport_maps = texthash:{dir}/conf/transport
smtp_dns_support_level = disabled
"""
    try:
        certs = make_certificates(tmp_path / "certs", ["postfix.test"])
        with postfix(["known"], certs, extra=extra) as mta:
            (mta.directory / "conf" / "transport").write_text(
                f"bounce.example.test smtp:[127.0.0.1]:{final_hop.controller.port}\n"
                f"rp.example.test smtp:[127.0.0.1]:{smtp_port}\n"
            )
            subprocess.run(
                ["postfix", "-c", str(mta.directory / "conf"), "reload"], check=True, capture_output=True
            )
            server = make_server(
                delivery_mode="relay",
                relay_url=f"smtp://127.0.0.1:{mta.port}?tls=none",
                return_path_domain="rp.example.test",
                smtp_port=smtp_port,
            )
            email_id = server.send(to=["someone@bounce.example.test"])
            found = _wait(server, email_id, {"hard-bounced"}, timeout=30)
            kinds = [e["event"] for e in found]
            assert kinds == ["processed", "delivered", "hard-bounced"], mta.log()
            bounce = found[-1]
            assert "5.1.1" in bounce["smtp_response"] and bounce["reason"].startswith("reported by")
            db = server.app.state.services.db
            kept = db.read_sync(
                lambda c: list(c.execute(select(feedback_messages.c.kind, feedback_messages.c.delivery_id)))
            )
            assert [k.kind for k in kept] == ["dsn"] and kept[0].delivery_id is not None
            rows = db.read_sync(lambda c: list(c.execute(select(suppressions.c.email_address))))
            assert [r.email_address for r in rows] == ["someone@bounce.example.test"]
    finally:
        final_hop.controller.stop()


def test_a_sandbox_smtp_user_s_mail_is_captured_and_never_relayed(make_server: Any) -> None:
    peer = Peer()
    peer.controller.start()
    try:
        server = make_server(**_relay_settings(peer))
        body = {"username": "sandbox-user", "email_password": "sandbox-password-1", "status": "sandbox"}
        assert server.post("users/smtp/add", body).status_code == 200
        port = server.settings.smtp_port
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.login("sandbox-user", "sandbox-password-1")
            reply = client.sendmail("app@example.com", ["user@example.test"], b"Subject: s\r\n\r\nx\r\n")
            assert reply == {}
        relayed = server.send(to=["other@example.test"])  # an ordinary API send is still relayed
        found = _wait(server, relayed, {"delivered"})
        assert [e["event"] for e in found] == ["processed", "delivered"]
        events_all = server.post("activity/search", {"search_usernames": ["sandbox-user"]}).json()["data"][
            "events"
        ]
        delivered = [e for e in events_all if e["event"] == "delivered"]
        assert [e["smtp_response"] for e in delivered] == ["250 captured"]
        assert [r for _, r, _ in peer.received] == [["other@example.test"]]
    finally:
        peer.controller.stop()
