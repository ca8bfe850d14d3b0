"""Dedicated IP pools and audit copies through the whole path in relay mode: API or SMTP → queue →
worker → a scripted smarthost on 127.0.0.1, which records the address each session came from.

The server runs in its own thread; the peer runs in the test's event loop, so every blocking call
of the test (HTTP, smtplib) goes through a thread.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Callable
from typing import Any

from peers import Received, ScriptedPeer

from conftest import RunningServer
from envelope_checks import ok

POOLS = "main=127.0.0.2;bulk=127.0.0.3"  # pool 1 leaves from 127.0.0.2, pool 2 from 127.0.0.3
DEFAULT_SOURCE = "127.0.0.1"  # what the system picks to reach the peer on 127.0.0.1
Make = Callable[..., RunningServer]


def start(make_server: Make, peer: ScriptedPeer) -> RunningServer:
    return make_server(
        delivery_mode="relay",
        relay_url=f"smtp://127.0.0.1:{peer.port}?tls=none",
        return_path_domain="rp.example.test",
        ip_pools=POOLS,
    )


async def post(server: RunningServer, path: str, body: dict[str, Any], key: str = "default") -> Any:
    return ok(await asyncio.to_thread(server.post, path, body, key))


async def send(server: RunningServer, key: str = "default", **fields: Any) -> dict[str, Any]:
    body = {"sender": "app@example.com", "subject": "pools", "text_body": "hello", **fields}
    result: dict[str, Any] = await post(server, "email/send", body, key)
    return result


async def new_key(server: RunningServer, **settings: Any) -> str:
    [added] = await post(server, "api_keys/add", {"endpoints": ["/email/send"], **settings})
    key: str = added["api_key"]
    return key


async def smtp_user(server: RunningServer, username: str, **settings: Any) -> None:
    body = {"username": username, "email_password": "a-long-password-1", **settings}
    await post(server, "users/smtp/add", body)


def submit(server: RunningServer, username: str, rcpts: list[str], headers: str) -> None:
    port: int = server.app.state.smtp.ports[0]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.login(username, "a-long-password-1")
        client.sendmail("app@example.com", rcpts, f"{headers}Subject: smtp\r\n\r\nhello\r\n".encode())


async def arrived(peer: ScriptedPeer, recipients: set[str], timeout: float = 15) -> dict[str, Received]:
    """Each recipient's message at the peer, once all have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        found = {r: m for m in peer.messages for r in m.rcpt_tos}
        if recipients <= found.keys():
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"only {sorted(found)} arrived, expected {sorted(recipients)}")
        await asyncio.sleep(0.05)


async def test_a_keys_or_smtp_users_pool_picks_the_source_address(make_server: Make) -> None:
    async with ScriptedPeer() as peer:
        server = start(make_server, peer)
        pooled = await new_key(server, ip_pool=1)
        await send(server, pooled, to=["pooled-key@example.test"])
        await send(server, to=["default-key@example.test"])
        await smtp_user(server, "pooled-user", ip_pool=1)
        await smtp_user(server, "plain-user")
        await asyncio.to_thread(submit, server, "pooled-user", ["pooled-user@example.test"], "")
        await asyncio.to_thread(submit, server, "plain-user", ["plain-user@example.test"], "")
        found = await arrived(
            peer,
            {
                "pooled-key@example.test",
                "default-key@example.test",
                "pooled-user@example.test",
                "plain-user@example.test",
            },
        )
    assert {r: m.remote for r, m in found.items()} == {
        "pooled-key@example.test": "127.0.0.2",
        "default-key@example.test": DEFAULT_SOURCE,
        "pooled-user@example.test": "127.0.0.2",
        "plain-user@example.test": DEFAULT_SOURCE,
    }


async def test_without_a_pool_of_its_own_a_message_takes_its_accounts(make_server: Make) -> None:
    async with ScriptedPeer() as peer:
        server = start(make_server, peer)
        sub = (await post(server, "subaccount/add", {"fullname": "Bulk team", "ip_pool": 2}))["id"]
        await send(server, to=["for-sub@example.test"], subaccount_id=sub)
        pooled = await new_key(server, ip_pool=1)
        await send(server, pooled, to=["acting-key@example.test"], subaccount_id=sub)
        await send(server, to=["master@example.test"])
        found = await arrived(
            peer, {"for-sub@example.test", "acting-key@example.test", "master@example.test"}
        )
    assert found["for-sub@example.test"].remote == "127.0.0.3"  # the subaccount's pool
    # a subaccount's mail leaves from its own pool, even through a master key with another pool
    assert found["acting-key@example.test"].remote == "127.0.0.3"
    assert found["master@example.test"].remote == DEFAULT_SOURCE


async def test_an_audit_address_gets_a_hidden_copy_with_its_own_delivery(make_server: Make) -> None:
    async with ScriptedPeer() as peer:
        server = start(make_server, peer)
        audited = await new_key(server, audit_email="Audit <audit@example.test>")
        result = await send(server, audited, to=["ann@example.test"], cc=["bob@example.test"])
        assert (result["succeeded"], result["failed"], result["failures"]) == (1, 0, [])
        await send(server, audited, to=["audit@example.test"])  # already a recipient: one copy only
        await smtp_user(server, "audited-user", audit_email="smtp-audit@example.test")
        await asyncio.to_thread(
            submit, server, "audited-user", ["cid@example.test"], "To: cid@example.test\r\n"
        )
        found = await arrived(
            peer, {"ann@example.test", "audit@example.test", "cid@example.test", "smtp-audit@example.test"}
        )
        events = (await post(server, "activity/search", {"search_email_id": result["email_id"]}))["events"]
    # each recipient is its own transaction (VERP: a return path per delivery), with the same bytes
    audit_copies = [m.data for m in peer.messages if m.rcpt_tos == ["audit@example.test"]]
    assert len(audit_copies) == 2  # one of each message: the one addressed to it is not doubled
    assert found["ann@example.test"].data in audit_copies
    assert found["ann@example.test"].data == found["bob@example.test"].data
    assert found["smtp-audit@example.test"].data == found["cid@example.test"].data
    for copy, audit in ((found["ann@example.test"], "audit@"), (found["cid@example.test"], "smtp-audit@")):
        head = copy.data.split(b"\r\n\r\n", 1)[0].lower()
        assert b"\r\nbcc:" not in head and audit.encode() not in head  # no header shows it
    delivered = sorted(e["recipient"] for e in events if e["event"] == "delivered")
    assert delivered == ["ann@example.test", "audit@example.test", "bob@example.test"]


async def test_the_audit_copy_is_not_asked_about_and_never_sent_alone(make_server: Make) -> None:
    async with ScriptedPeer() as peer:
        server = start(make_server, peer)
        body = {"enabled": True, "allowed_recipients": ["ann@example.test"]}
        await post(server, "allowed_recipients/update", body)
        audited = await new_key(server, audit_email="audit@example.test")
        refused = await send(server, audited, to=["zed@example.test"])
        assert (refused["succeeded"], refused["email_id"]) == (0, "")
        partly = await send(server, audited, to=["ann@example.test", "zed@example.test"])
        assert partly["succeeded"] == 1 and len(partly["failures"]) == 1 and "zed" in partly["failures"][0]
        found = await arrived(peer, {"ann@example.test", "audit@example.test"})
    assert found["audit@example.test"].data == found["ann@example.test"].data
    await asyncio.sleep(0.5)  # time for anything else the worker might (wrongly) deliver
    assert sorted(r for m in peer.messages for r in m.rcpt_tos) == ["ann@example.test", "audit@example.test"]
