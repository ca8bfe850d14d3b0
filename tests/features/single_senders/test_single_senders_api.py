"""/v3/single_sender_emails/* (aliases /v3/sender/*) and their verification link, through a real server."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conftest import RunningServer
from envelope_checks import error, invalid, ok

DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
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


def _open(server: RunningServer, link: str) -> httpx.Response:
    """GET the link's path on the test server (the link's base may be a configured public URL)."""
    path = link[link.index("/verify/sender/") :]
    with server.client() as c:
        return c.get(path)


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
    with server.client() as c:
        opened = c.get(link)
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
        refused = _open(server, bad)
        assert refused.status_code == 400 and "not valid" in refused.text, bad
    ok(server.post("sender/remove", {"email_address": "a@example.com"}))
    assert _open(server, link).status_code == 400
    ok(server.post("sender/add", {"email_address": "a@example.com"}))  # a new row: the old link stays dead
    assert _open(server, link).status_code == 400
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
