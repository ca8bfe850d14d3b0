"""Subaccount invitations: the mail Postroom sends through itself, the link's page, and its first key."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx

from conftest import RunningServer
from envelope_checks import error, invalid, ok

DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
PUBLIC = "https://mail.example.test/postroom"
LINK = re.compile(re.escape(PUBLIC) + r"(/invitations/[A-Za-z0-9_.-]+)")


def _captured_to(server: RunningServer, address: str) -> list[dict[str, Any]]:
    """The master account's captured messages to `address`, newest first, with their details."""
    with server.client(headers={"X-Smtp2go-Api-Key": server.key}) as c:
        listed = c.get("/api/v1/messages", params={"to": address, "limit": 100}).json()["messages"]
        return [c.get(f"/api/v1/messages/{m['email_id']}").json() for m in listed]


def _invitation_path(server: RunningServer, address: str, index: int = 0) -> str:
    detail = _captured_to(server, address)[index]
    found = LINK.search(detail["text"])
    assert found, detail["text"]
    return found.group(1)


def _accept(server: RunningServer, path: str) -> str:
    with server.client() as c:
        r = c.post(path)
    assert r.status_code == 200, r.text
    found = re.search(r'<pre id="api-key">([^<]+)</pre>', r.text)
    assert found and f'<pre id="api-base">{PUBLIC}/v3/</pre>' in r.text
    return html.unescape(found.group(1))


def _status(server: RunningServer, method: str, path: str) -> int:
    with server.client() as c:
        return c.request(method, path).status_code


def test_add_mails_an_invitation_whose_link_gives_the_subaccounts_first_key(make_server: Any) -> None:
    server: RunningServer = make_server(public_url=PUBLIC + "/", hostname="mx.example.test")
    sub = ok(
        server.post(
            "subaccount/add", {"fullname": "Team Blue", "subaccount_email": "lead@blue.test", "limit": 5000}
        )
    )
    [mail] = _captured_to(server, "lead@blue.test")
    assert mail["from"] == "Postroom <postroom@mx.example.test>"
    assert mail["envelope"] == {"mail_from": "postroom@mx.example.test", "rcpt_to": ["lead@blue.test"]}
    assert (mail["source"], mail["username"]) == ("system", "postroom")
    assert server.wait_for_events(mail["email_id"], 1)  # in the master account's activity
    assert mail["to"] == ["lead@blue.test"]
    assert "Team Blue" in mail["text"] and "Master account" in mail["text"] and sub["id"] in mail["text"]
    path = _invitation_path(server, "lead@blue.test")

    with server.client() as c:
        page = c.get(path)
    assert page.status_code == 200 and "Team Blue" in page.text
    assert f'<form method="post" action="{path}">' in page.text  # GET only shows; the POST accepts
    assert _status(server, "GET", path) == 200  # opening the link twice (a mail scanner) uses nothing

    key = _accept(server, path)
    cycle = ok(server.post("stats/email_cycle", {}, key=key))
    assert cycle["cycle_max"] == 5000  # the key acts as the subaccount, not the master
    ok(server.post("email/send", _message(), key=key))
    assert ok(server.post("stats/email_cycle", {}, key=key))["cycle_used"] == 1
    error(server.post("subaccounts/search", {}, key=key), 403, DENIED)  # a subaccount manages no subaccounts

    assert _status(server, "POST", path) == 400  # a link works once
    assert _status(server, "GET", path) == 400


def test_reinvite_replaces_the_link_and_mails_it_again(make_server: Any) -> None:
    server: RunningServer = make_server(public_url=PUBLIC)
    sub = ok(server.post("subaccount/add", {"fullname": "Team Red", "subaccount_email": "red@red.test"}))
    first = _invitation_path(server, "red@red.test")
    assert (
        ok(server.post("subaccount/resend_invite", {"id": sub["id"]})) == "Invitation resent to red@red.test"
    )
    assert len(_captured_to(server, "red@red.test")) == 2
    second = next(p for p in (_invitation_path(server, "red@red.test", i) for i in (0, 1)) if p != first)
    assert _status(server, "GET", first) == 400
    assert _status(server, "POST", first) == 400
    ok(server.post("email/send", _message(), key=_accept(server, second)))


def test_a_closed_subaccounts_invitation_is_refused_until_it_is_reopened(make_server: Any) -> None:
    server: RunningServer = make_server(public_url=PUBLIC)
    sub = ok(server.post("subaccount/add", {"fullname": "Team Grey", "subaccount_email": "g@grey.test"}))
    path = _invitation_path(server, "g@grey.test")
    ok(server.post("subaccount/close", {"id": sub["id"]}))
    assert _status(server, "GET", path) == 400
    assert _status(server, "POST", path) == 400
    error(server.post("subaccount/reinvite", {"id": sub["id"]}), 402)
    ok(server.post("subaccount/reopen", {"id": sub["id"]}))
    key = _accept(server, path)
    ok(server.post("subaccount/close", {"id": sub["id"]}))
    error(server.post("email/send", _message(), key=key), 401)  # a closed subaccount's keys are refused
    ok(server.post("subaccount/reopen", {"id": sub["id"]}))
    ok(server.post("email/send", _message(), key=key))


def test_forged_or_foreign_tokens_are_refused(server: RunningServer) -> None:
    for token in ("nonsense", "a.b", "x" * 3000):
        assert _status(server, "GET", f"/invitations/{token}") in (400, 404)
        assert _status(server, "POST", f"/invitations/{token}") in (400, 404)


def _message() -> dict[str, Any]:
    return {"sender": "s@example.com", "to": ["t@example.com"], "subject": "hi", "text_body": "x"}


def test_an_address_that_is_not_a_mailbox_is_refused_before_anything_is_created(
    server: RunningServer,
) -> None:
    for bad in ("john smith@example.com", "nobody", "a@b@c.example"):
        body = {"fullname": "Team Typo", "subaccount_email": bad}
        invalid(server.post("subaccount/add", body), "subaccount_email")
    assert ok(server.post("subaccounts/search", {}))["subaccounts"] == []
    named = ok(server.post("subaccount/add", {"fullname": "Team", "subaccount_email": "Lead <lead@t.test>"}))
    assert ok(server.post("subaccounts/search", {}))["subaccounts"][0]["email"] == "lead@t.test"
    body = {"id": named["id"], "subaccount_email": "not an address"}
    invalid(server.post("subaccount/edit", body), "subaccount_email")


def test_changing_the_address_voids_the_invitation_sent_to_the_old_one(make_server: Any) -> None:
    server: RunningServer = make_server(public_url=PUBLIC)
    sub = ok(server.post("subaccount/add", {"fullname": "Team", "subaccount_email": "typo@team.test"}))
    path = _invitation_path(server, "typo@team.test")
    ok(server.post("subaccount/edit", {"id": sub["id"], "subaccount_email": "right@team.test"}))
    assert _status(server, "POST", path) == 400
    ok(server.post("subaccount/reinvite", {"id": sub["id"]}))
    _accept(server, _invitation_path(server, "right@team.test"))


def test_one_link_accepted_at_once_by_two_servers_gives_one_key(make_server: Any) -> None:
    """Two servers on one database (as two processes): the nonce is taken by a conditional update."""
    first, second = make_server(public_url=PUBLIC), make_server(public_url=PUBLIC)
    ok(first.post("subaccount/add", {"fullname": "Team", "subaccount_email": "race@team.test"}))
    path = _invitation_path(first, "race@team.test")

    async def both() -> list[int]:
        clients = [httpx.AsyncClient(base_url=s.base_url) for s in (first, second)]
        try:
            answers = await asyncio.gather(*(c.post(path) for c in clients))
            return sorted(r.status_code for r in answers)
        finally:
            for c in clients:
                await c.aclose()

    assert asyncio.run(both()) == [200, 400]
