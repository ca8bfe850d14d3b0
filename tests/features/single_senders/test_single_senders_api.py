"""/v3/single_sender_emails/* (aliases /v3/sender/*) and their verification link, through a real server."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Connection, select, update

from conftest import TEST_KEY, RunningServer, free_port
from envelope_checks import error, invalid, ok
from postroom.features.api_keys import repo as key_repo
from postroom.features.api_keys.service import create_key, key_id_of
from postroom.features.messages.service import WITHHELD
from postroom.storage.tables import api_keys, messages

DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
LIMITED = "E_ApiResponseCodes.REQ_LIMIT_EXCEEDED"
LINK = re.compile(r"(\S+/verify/sender/\S+)")


def _captured(server: RunningServer, key: str | None = None) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get(
            "/api/v1/messages", params={"limit": 1000}, headers={"X-Smtp2go-Api-Key": key or server.key}
        )
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


def _verification_mail(server: RunningServer, address: str) -> dict[str, Any]:
    """The newest verification mail to `address` in the master account's capture store, in detail."""
    mails = [m for m in _captured(server) if m["to"] == [address]]
    assert mails, f"no verification mail to {address}"
    with server.client() as c:
        r = c.get(f"/api/v1/messages/{mails[0]['email_id']}", headers={"X-Smtp2go-Api-Key": server.key})
    assert r.status_code == 200, r.text
    detail: dict[str, Any] = r.json()
    return detail


def _link(server: RunningServer, address: str) -> str:
    match = LINK.search(_verification_mail(server, address)["text"])
    assert match, "the verification mail has no link"
    return match[1]


def _path(link: str) -> str:
    """The link's path on the test server (the link's base may be a configured public URL)."""
    return link[link.index("/verify/sender/") :]


def _page(server: RunningServer, link: str) -> httpx.Response:
    """GET the link, as a browser or a mail scanner's prefetch does: it only shows the button."""
    with server.client() as c:
        return c.get(_path(link))


def _open(server: RunningServer, link: str) -> httpx.Response:
    """Open the link and press its button: GET the page, then POST its form (to the same URL)."""
    page = _page(server, link)
    if page.status_code != 200:
        return page
    assert '<form method="post"><button type="submit">Verify ' in page.text, page.text
    with server.client() as c:
        return c.post(_path(link))  # a form without an action posts to the page's own URL


def _view(server: RunningServer, key: str = "default", **body: Any) -> list[dict[str, Any]]:
    senders: list[dict[str, Any]] = ok(server.post("single_sender_emails/view", body, key=key))["senders"]
    return senders


@pytest.mark.parametrize("prefix", ["single_sender_emails", "sender"])
def test_add_view_remove_at_canonical_and_alias_paths(server: RunningServer, prefix: str) -> None:
    added = ok(server.post(f"{prefix}/add", {"email_address": "Ann Lee <Ann@Example.COM>"}))
    assert added == {"email_address": "ann@example.com", "verified": False, "verification_sent": True}
    ok(server.post(f"{prefix}/add", {"email_address": "bob@example.org"}))
    assert ok(server.post(f"{prefix}/view", {})) == {
        "senders": [
            {"email_address": "ann@example.com", "verified": False},
            {"email_address": "bob@example.org", "verified": False},
        ]
    }
    one = ok(server.post(f"{prefix}/view", {"email_address": "BOB@example.org"}))
    assert one == {"senders": [{"email_address": "bob@example.org", "verified": False}]}
    removed = ok(server.post(f"{prefix}/remove", {"email_address": "ann@example.com"}))
    assert removed == {"email_address": "ann@example.com", "removed": True}
    assert [s["email_address"] for s in _view(server)] == ["bob@example.org"]
    error(server.post(f"{prefix}/remove", {"email_address": "ann@example.com"}), 404)


def test_validation_errors_name_the_field(server: RunningServer) -> None:
    invalid(server.post("single_sender_emails/add", {}), "email_address")
    invalid(server.post("single_sender_emails/add", {"email_address": ""}), "email_address")
    invalid(server.post("single_sender_emails/add", {"email_address": "not an address"}), "email_address")
    invalid(server.post("sender/add", {"email_address": "a@b@c.example"}), "email_address")
    invalid(server.post("single_sender_emails/add", {"email_address": ["a@example.com"]}), "email_address")
    invalid(
        server.post("single_sender_emails/add", {"email_address": "a@example.com", "message": 5}), "message"
    )
    invalid(server.post("single_sender_emails/remove", {}), "email_address")
    invalid(server.post("single_sender_emails/remove", {"email_address": "nope"}), "email_address")
    invalid(server.post("single_sender_emails/view", {"email_address": "nope"}), "email_address")
    assert _view(server) == []


def test_a_key_without_the_endpoints_is_refused(server: RunningServer) -> None:
    narrow = server.account_key(["/email/send"], same=True)
    for path in ("single_sender_emails/add", "sender/add", "single_sender_emails/view", "sender/remove"):
        error(server.post(path, {"email_address": "a@example.com"}, key=narrow), 403, DENIED)
    granted = server.account_key(["/single_sender_emails/*"], same=True)
    ok(server.post("sender/add", {"email_address": "a@example.com"}, key=granted))
    assert _view(server, key=granted) == [{"email_address": "a@example.com", "verified": False}]


def test_the_verification_mail_and_link(server: RunningServer) -> None:
    body = {"email_address": "owner@pending.example", "message": "Hi, this is the billing team."}
    ok(server.post("single_sender_emails/add", body))
    mail = _verification_mail(server, "owner@pending.example")
    assert mail["envelope"]["mail_from"] == f"postroom@{server.settings.hostname}"
    assert mail["source"] == "system"
    assert "Master account" in mail["text"] and "Hi, this is the billing team." in mail["text"]
    assert server.wait_for_events(mail["email_id"], 1)  # in the master account's activity too
    link = _link(server, "owner@pending.example")
    assert link.startswith(server.base_url + "/verify/sender/")
    opened = _open(server, link)
    assert opened.status_code == 200 and "owner@pending.example is verified" in opened.text
    assert _view(server) == [{"email_address": "owner@pending.example", "verified": True}]
    again = _open(server, link)  # opening it twice is harmless
    assert again.status_code == 200 and "is verified" in again.text
    error(server.post("single_sender_emails/add", body), 402)  # already verified


def test_readding_resends_and_replaces_the_link(server: RunningServer) -> None:
    ok(server.post("sender/add", {"email_address": "a@example.com"}))
    first = _link(server, "a@example.com")
    ok(server.post("sender/add", {"email_address": "a@example.com"}))
    second = _link(server, "a@example.com")
    assert first != second and len([m for m in _captured(server) if m["to"] == ["a@example.com"]]) == 2
    assert _open(server, first).status_code == 400
    assert _open(server, second).status_code == 200


def test_tampered_stale_and_removed_links_are_refused(server: RunningServer) -> None:
    ok(server.post("sender/add", {"email_address": "a@example.com"}))
    link = _link(server, "a@example.com")
    flipped = link[:-1] + ("A" if link[-1] != "A" else "B")
    for bad in (
        flipped,
        link + "x",
        server.base_url + "/verify/sender/garbage",
        server.base_url + "/verify/sender/a.b",
    ):
        refused = _page(server, bad)
        assert refused.status_code == 400 and "not valid" in refused.text, bad
        with server.client() as c:
            posted = c.post(_path(bad))
        assert posted.status_code == 400 and "not valid" in posted.text, bad
    ok(server.post("sender/remove", {"email_address": "a@example.com"}))
    assert _page(server, link).status_code == 400
    with server.client() as c:
        assert c.post(_path(link)).status_code == 400
    ok(server.post("sender/add", {"email_address": "a@example.com"}))  # a new row: the old link stays dead
    assert _page(server, link).status_code == 400
    with server.client() as c:
        assert c.post(_path(link)).status_code == 400
    assert _view(server) == [{"email_address": "a@example.com", "verified": False}]


def test_the_public_url_setting_builds_the_links(make_server: Any) -> None:
    server = make_server(public_url="https://mail.example.test/postroom/", system_from="robot@example.test")
    ok(server.post("sender/add", {"email_address": "a@example.com"}))
    mail = _verification_mail(server, "a@example.com")
    assert mail["envelope"]["mail_from"] == "robot@example.test"
    link = _link(server, "a@example.com")
    assert link.startswith("https://mail.example.test/postroom/verify/sender/")
    assert _open(server, link).status_code == 200


def test_subaccounts_are_isolated_and_their_mail_is_recorded_in_the_master(server: RunningServer) -> None:
    from postroom.features.api_keys.service import create_key

    def sub_key(name: str) -> str:
        account_id = ok(server.post("subaccount/add", {"fullname": name}))["id"]
        key: str = server.app.state.services.db.write_sync(lambda conn: create_key(conn, account_id, ["*"]))
        return key

    key_a, key_b = sub_key("Team A"), sub_key("Team B")
    ok(server.post("sender/add", {"email_address": "a@team.example"}, key=key_a))
    assert _view(server, key=key_b) == [] and _view(server) == []
    error(server.post("sender/remove", {"email_address": "a@team.example"}, key=key_b), 404)
    assert _view(server, key=key_a) == [{"email_address": "a@team.example", "verified": False}]
    mail = _verification_mail(server, "a@team.example")  # in the master's capture store
    assert "Team A" in mail["text"]
    assert not _captured(server, key_a) and not _captured(server, key_b)
    ok(server.post("sender/add", {"email_address": "a@team.example"}, key=key_b))  # B's own, separately
    assert _open(server, _link(server, "a@team.example")).status_code == 200
    assert _view(server, key=key_b) == [{"email_address": "a@team.example", "verified": True}]
    assert _view(server, key=key_a) == [{"email_address": "a@team.example", "verified": False}]


def test_a_verified_single_sender_may_send_when_verified_senders_are_required(make_server: Any) -> None:
    server = make_server(require_verified_sender="true")
    message = {"to": ["t@example.org"], "subject": "s", "text_body": "x"}

    def send(sender: str) -> dict[str, Any]:
        data: dict[str, Any] = ok(server.post("email/send", {**message, "sender": sender}))
        return data

    ok(server.post("sender/add", {"email_address": "app@pending.example"}))  # sent despite the policy
    assert send("app@pending.example")["succeeded"] == 0  # not verified yet (and now cached)
    assert _open(server, _link(server, "app@pending.example")).status_code == 200
    assert send("App <APP@pending.example>")["succeeded"] == 1  # counts at once, case aside
    refused = send("other@pending.example")
    assert (refused["succeeded"], refused["failed"], refused["email_id"]) == (0, 1, "")
    assert "a verified single sender email" in refused["failures"][0]


def test_opening_the_link_only_shows_a_button_and_pressing_it_verifies(server: RunningServer) -> None:
    ok(server.post("sender/add", {"email_address": "Owner@Pending.example"}))
    link = _link(server, "owner@pending.example")
    for _ in range(2):  # a mail scanner's prefetch (GET, HEAD) changes nothing
        shown = _page(server, link)
        assert shown.status_code == 200
        assert "<button" in shown.text and "Verify owner@pending.example</button>" in shown.text
        assert '<form method="post"><button' in shown.text  # no action: to this very URL
        with server.client() as c:
            assert c.head(_path(link)).status_code == 200
    headers = shown.headers
    assert "form-action 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert _view(server) == [{"email_address": "owner@pending.example", "verified": False}]
    with server.client() as c:
        pressed = c.post(_path(link))  # the button: no CSRF token, the token in the URL is the secret
    assert pressed.status_code == 200 and "owner@pending.example is verified" in pressed.text
    assert pressed.headers["content-security-policy"] == headers["content-security-policy"]
    assert _view(server) == [{"email_address": "owner@pending.example", "verified": True}]


def _detail(server: RunningServer, email_id: str, key: str | None = None) -> httpx.Response:
    with server.client() as c:
        return c.get(f"/api/v1/messages/{email_id}", headers={"X-Smtp2go-Api-Key": key or server.key})


def _raw(server: RunningServer, email_id: str) -> httpx.Response:
    with server.client() as c:
        return c.get(f"/api/v1/messages/{email_id}/raw", headers={"X-Smtp2go-Api-Key": server.key})


@contextmanager
def _browser(server: RunningServer) -> Iterator[httpx.Client]:
    """A client signed in to the dashboard with the master key."""
    with server.client() as client:
        assert client.post("/sign-in", data={"api_key": TEST_KEY, "next": "/"}).status_code == 303
        yield client


def _mail_id(server: RunningServer, address: str) -> str:
    mails = [m for m in _captured(server) if m["to"] == [address]]
    assert len(mails) == 1, mails
    email_id: str = mails[0]["email_id"]
    return email_id


def test_in_capture_mode_the_verification_mail_is_readable_in_full(server: RunningServer) -> None:
    """The Mailpit-like local use: nothing leaves the machine, so the developer reads the link."""
    assert server.settings.delivery_mode == "capture"
    ok(server.post("sender/add", {"email_address": "dev@local.example"}))
    email_id = _mail_id(server, "dev@local.example")
    detail = _detail(server, email_id).json()
    assert detail["body_withheld"] is False and "/verify/sender/" in detail["text"]
    assert detail["parts"]
    raw = _raw(server, email_id)
    assert raw.status_code == 200 and b"/verify/sender/" in raw.content
    with _browser(server) as browser:
        shown = browser.get(f"/messages/{email_id}")
        assert shown.status_code == 200 and "/verify/sender/" in shown.text
        assert browser.get(f"/messages/{email_id}/raw").status_code == 200
    assert _open(server, _link(server, "dev@local.example")).status_code == 200


class Peer:
    """A threaded SMTP smarthost that accepts everything and records (rcpt_tos, data)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[bytes]:
        with self.lock:
            return [data for rcpts, data in self.received if address in rcpts]


@pytest.fixture
def relayed(make_server: Any) -> Iterator[tuple[RunningServer, Peer]]:
    """A server in relay mode (real delivery, not capture mode) and the smarthost it relays to."""
    peer = Peer()
    peer.controller.start()
    try:
        server = make_server(
            delivery_mode="relay",
            relay_url=f"smtp://127.0.0.1:{peer.controller.port}?tls=none",
            return_path_domain="rp.example.test",
        )
        yield server, peer
    finally:
        peer.controller.stop()


def _events(server: RunningServer, email_id: str, name: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = server.post("activity/search", {"search_email_id": email_id}).json()["data"]["events"]
        if any(e["event"] == name for e in found):
            return [e for e in found if e["event"] == name]
        time.sleep(0.05)
    raise AssertionError(f"no {name} event for {email_id}")


def test_outside_capture_mode_the_account_cannot_read_the_verification_link(
    relayed: tuple[RunningServer, Peer],
) -> None:
    server, peer = relayed
    ok(server.post("sender/add", {"email_address": "victim@elsewhere.example"}))
    email_id = _mail_id(server, "victim@elsewhere.example")
    _events(server, email_id, "delivered")
    response = _detail(server, email_id)
    assert response.status_code == 200 and "/verify/sender/" not in response.text
    detail = response.json()
    assert detail["body_withheld"] is True and detail["text"] == WITHHELD
    assert "one-time link for its recipient only" in WITHHELD
    assert (detail["html"], detail["parts"], detail["attachments"]) == ("", [], [])
    assert detail["source"] == "system" and detail["subject"].startswith("Verify your sender address")
    assert detail["envelope"]["rcpt_to"] == ["victim@elsewhere.example"]
    assert {h["name"] for h in detail["headers"]} >= {"Subject", "From", "To", "Message-ID"}
    assert [e["event"] for e in detail["events"]] == ["processed", "delivered"]
    raw = _raw(server, email_id)
    assert raw.status_code == 403 and "/verify/sender/" not in raw.text
    assert "one-time link for its recipient only" in raw.json()["data"]["error"]
    with _browser(server) as browser:
        shown = browser.get(f"/messages/{email_id}")
        assert shown.status_code == 200 and "/verify/sender/" not in shown.text
        assert html.escape(WITHHELD) in shown.text and "delivered" in shown.text
        for path in ("/raw", "/parts/0", "/parts/1"):
            refused = browser.get(f"/messages/{email_id}{path}")
            assert refused.status_code == 403 and "/verify/sender/" not in refused.text, path
            assert "one-time link for its recipient only" in refused.text
    # the owner got the link and can still use it; other mail of the account is shown in full
    [delivered] = peer.to("victim@elsewhere.example")
    match = LINK.search(delivered.decode())
    assert match and _open(server, match[1]).status_code == 200
    assert _view(server) == [{"email_address": "victim@elsewhere.example", "verified": True}]
    ordinary = _detail(server, server.send(text_body="my own body")).json()
    assert ordinary["body_withheld"] is False and "my own body" in ordinary["text"]
    assert _raw(server, ordinary["email_id"]).status_code == 200


def _sandbox_key(server: RunningServer) -> str:
    def make(conn: Connection) -> str:
        key = create_key(conn, str(key_repo.master_account_id(conn)), ["*"])
        conn.execute(update(api_keys).where(api_keys.c.id == key_id_of(key)).values(status="sandbox"))
        return key

    key: str = server.app.state.services.db.write_sync(make)
    return key


def test_a_sandbox_key_s_verification_mail_is_captured_never_delivered(
    relayed: tuple[RunningServer, Peer],
) -> None:
    server, peer = relayed
    ok(server.post("sender/add", {"email_address": "sandboxed@elsewhere.example"}, key=_sandbox_key(server)))
    ok(server.post("sender/add", {"email_address": "real@elsewhere.example"}))
    sandboxed, real = (
        _mail_id(server, "sandboxed@elsewhere.example"),
        _mail_id(server, "real@elsewhere.example"),
    )
    assert [e["smtp_response"] for e in _events(server, sandboxed, "delivered")] == ["250 captured"]
    _events(server, real, "delivered")
    assert len(peer.to("real@elsewhere.example")) == 1 and peer.to("sandboxed@elsewhere.example") == []
    flags = server.app.state.services.db.read_sync(
        lambda c: dict(c.execute(select(messages.c.email_id, messages.c.sandbox)).all())
    )
    assert flags == {sandboxed: True, real: False}
    detail = _detail(server, sandboxed).json()  # captured, but still withheld outside capture mode
    assert detail["body_withheld"] is True and "/verify/sender/" not in json.dumps(detail)
    assert _raw(server, sandboxed).status_code == 403


def test_adding_is_limited_to_20_an_hour_per_key(server: RunningServer) -> None:
    for i in range(20):
        ok(server.post("single_sender_emails/add", {"email_address": f"a{i}@example.com"}))
    refused = error(server.post("sender/add", {"email_address": "a20@example.com"}), 429, LIMITED)
    assert "20 requests every hour" in refused["error"] or "20 requests" in refused["error"]
    other = server.account_key(same=True)  # per key: another key of the account still may
    ok(server.post("sender/add", {"email_address": "a20@example.com"}, key=other))
    assert len(_view(server)) == 21
