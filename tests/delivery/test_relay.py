"""Relay mode against real peers on loopback: a scripted aiosmtpd smarthost, and a real Postfix."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import (
    Certificates,
    Postfix,
    Script,
    ScriptedPeer,
    SilentPeer,
    free_port,
    job,
    make_certificates,
    message,
    postfix,
)

from postroom.delivery.relay_url import parse_relay_url
from postroom.delivery.transports.factory import build_transport
from postroom.delivery.transports.relay import RelayTransport
from postroom.settings import load_settings

USERS = {"relay-user": "s3cret pass"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"), ["localhost", "postfix.test"])


def relay(url: str, ca_file: str = "", timeout: float = 5.0, max_connections: int = 10) -> RelayTransport:
    return RelayTransport(
        parse_relay_url(url),
        helo_name="postroom.test",
        timeout=timeout,
        ca_file=ca_file,
        max_connections=max_connections,
    )


async def test_the_smarthost_receives_exactly_the_job_bytes() -> None:
    data = message("exact", "Line one\r\n.starts with a dot\r\n..two dots\r\nlast line\r\n")
    async with ScriptedPeer() as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none")
        [outcome] = await transport.deliver([job("ann@example.test", data, mail_from="bounces+1@pr.test")])
        await transport.close()
    assert outcome.kind == "delivered"
    assert outcome.response == "250 2.0.0 Ok: queued as 1" and outcome.host == "127.0.0.1"
    [received] = peer.messages
    assert received.data == data
    assert (received.mail_from, received.rcpt_tos) == ("bounces+1@pr.test", ["ann@example.test"])
    assert f"SIZE={len(data)}" in received.mail_options
    assert peer.ehlo_names == ["postroom.test"]


async def test_starttls_verified_against_the_ca_file_then_auth_plain(certs: Certificates) -> None:
    async with ScriptedPeer(starttls=certs.server_context(), users=USERS) as peer:
        transport = relay(f"smtp://relay-user:s3cret%20pass@127.0.0.1:{peer.port}", ca_file=str(certs.ca))
        outcomes = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert [o.kind for o in outcomes] == ["delivered"]
    [received] = peer.messages
    assert received.tls and received.login == "relay-user"
    assert peer.ehlo_names == ["postroom.test", "postroom.test"]  # EHLO again after STARTTLS (RFC 3207)


async def test_implicit_tls(certs: Certificates) -> None:
    async with ScriptedPeer(implicit=certs.server_context(), users=USERS) as peer:
        transport = relay(f"smtps://relay-user:s3cret%20pass@localhost:{peer.port}", ca_file=str(certs.ca))
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert outcome.kind == "delivered" and outcome.host == "localhost", outcome.response
    assert peer.messages[0].tls and peer.messages[0].login == "relay-user"


async def test_an_untrusted_certificate_defers(certs: Certificates) -> None:
    async with ScriptedPeer(starttls=certs.server_context()) as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}")  # no CA file: the system CAs do not know ours
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert outcome.kind == "deferred"
    assert outcome.response.startswith(f"TLS handshake with 127.0.0.1:{peer.port} failed: ")
    assert "certificate" in outcome.response
    assert peer.messages == []


async def test_starttls_required_but_not_offered_defers() -> None:
    async with ScriptedPeer() as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=starttls")
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert (outcome.kind, outcome.response) == ("deferred", f"127.0.0.1:{peer.port} does not offer STARTTLS")
    assert "MAIL" not in peer.commands


async def test_wrong_credentials_defer_with_the_peers_reply(certs: Certificates) -> None:
    async with ScriptedPeer(starttls=certs.server_context(), users=USERS) as peer:
        transport = relay(f"smtp://relay-user:wrong@127.0.0.1:{peer.port}", ca_file=str(certs.ca))
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert outcome.kind == "deferred" and outcome.response.startswith("535 5.7.8")


async def test_twenty_messages_share_two_connections_and_the_next_call_reuses_them() -> None:
    async with ScriptedPeer(script=Script(delay=0.01)) as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none", max_connections=2)
        jobs = [job(f"r{i}@example.test", n=i) for i in range(20)]  # distinct bytes: 20 transactions
        outcomes = await transport.deliver(jobs)
        assert [o.kind for o in outcomes] == ["delivered"] * 20
        assert peer.connections == 2 and peer.gauge.peak == 2
        assert sorted(m.rcpt_tos[0] for m in peer.messages) == sorted(j.recipient for j in jobs)
        more = await transport.deliver([job(f"s{i}@example.test", n=i) for i in range(4)])
        assert [o.kind for o in more] == ["delivered"] * 4
        assert peer.connections == 2  # the pooled sessions answered RSET and were used again
        await transport.close()
        await asyncio.sleep(0.05)
        assert peer.gauge.current == 0  # closed with QUIT


async def test_a_dead_pooled_connection_is_replaced() -> None:
    async with ScriptedPeer() as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none", max_connections=1)
        assert [o.kind for o in await transport.deliver([job("a@example.test")])] == ["delivered"]
        peer.drop_connections()  # the smarthost's idle timeout closes the pooled session
        await asyncio.sleep(0.05)
        [outcome] = await transport.deliver([job("b@example.test")])
        await transport.close()
    assert outcome.kind == "delivered" and peer.connections == 2


async def test_one_message_to_three_recipients_is_one_transaction_with_per_recipient_outcomes() -> None:
    script = Script(rcpt={"bob@example.test": "550 5.1.1 <bob@example.test>: user unknown"})
    async with ScriptedPeer(script=script) as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none")
        data = message("shared")
        jobs = [job(f"{name}@example.test", data, n=i) for i, name in enumerate(["ann", "bob", "cid"])]
        outcomes = await transport.deliver(jobs)
        await transport.close()
    assert [o.kind for o in outcomes] == ["delivered", "bounced", "delivered"]
    assert outcomes[1].response == "550 5.1.1 <bob@example.test>: user unknown"
    [received] = peer.messages
    assert received.rcpt_tos == ["ann@example.test", "cid@example.test"]


@pytest.mark.parametrize(
    ("script", "kind", "response"),
    [
        (Script(rcpt={"ann@example.test": "450 4.2.1 mailbox busy"}), "deferred", "450 4.2.1 mailbox busy"),
        (Script(mail="451 4.3.0 try later"), "deferred", "451 4.3.0 try later"),
        (Script(mail="553 5.7.1 sender refused"), "bounced", "553 5.7.1 sender refused"),
        (Script(data="554 5.6.0 content rejected"), "bounced", "554 5.6.0 content rejected"),
        (Script(data="452 4.3.1 out of space"), "deferred", "452 4.3.1 out of space"),
        (Script(greeting="421 4.3.2 busy"), "deferred", "421 4.3.2 busy"),
        (Script(greeting="554 5.7.1 no service for you"), "bounced", "554 5.7.1 no service for you"),
    ],
)
async def test_replies_at_each_stage(script: Script, kind: str, response: str) -> None:
    async with ScriptedPeer(script=script) as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none")
        data = message("two recipients")
        outcomes = await transport.deliver([job("ann@example.test", data), job("bob@example.test", data)])
        await transport.close()
    assert (outcomes[0].kind, outcomes[0].response, outcomes[0].host) == (kind, response, "127.0.0.1")
    if not script.rcpt:  # a reply to the connection, MAIL or DATA concerns every recipient
        assert outcomes[1] == outcomes[0]
    else:
        assert outcomes[1].kind == "delivered"


async def test_too_many_recipients_go_on_in_the_next_transaction() -> None:
    async with ScriptedPeer(script=Script(max_recipients=2)) as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none")
        data = message("many")
        outcomes = await transport.deliver([job(f"r{i}@example.test", data) for i in range(5)])
        await transport.close()
    assert [o.kind for o in outcomes] == ["delivered"] * 5
    assert [len(m.rcpt_tos) for m in peer.messages] == [2, 2, 1]
    assert peer.connections == 1


async def test_a_smarthost_that_is_down_defers() -> None:
    port = free_port()
    transport = relay(f"smtp://127.0.0.1:{port}?tls=none")
    outcomes = await transport.deliver([job("a@example.test", n=1), job("b@example.test", n=2)])
    await transport.close()
    assert {(o.kind, o.response, o.host) for o in outcomes} == {
        ("deferred", f"connection refused by 127.0.0.1:{port}", "127.0.0.1")
    }


async def test_a_silent_smarthost_times_out_and_later_calls_fail_fast() -> None:
    async with SilentPeer() as peer:
        transport = relay(f"smtp://127.0.0.1:{peer.port}?tls=none", timeout=0.3)
        clock = asyncio.get_running_loop().time
        started = clock()
        outcomes = await transport.deliver([job("a@example.test", n=1), job("b@example.test", n=2)])
        first_call = clock() - started
        started = clock()
        again = await transport.deliver([job("c@example.test", n=3)])
        second_call = clock() - started
        await transport.close()
    assert {o.kind for o in outcomes + again} == {"deferred"}
    assert {o.response for o in outcomes + again} == {
        f"timed out after 0.3 s connecting to 127.0.0.1:{peer.port}"
    }
    assert first_call < 1.0  # the second transaction failed at once, without a second timeout
    assert second_call < 0.1  # so did the next call: the smarthost is remembered as down for a while


def test_build_transport_from_settings(tmp_path: Path) -> None:
    settings = load_settings(
        flags={
            "delivery_mode": "relay",
            "relay_url": "smtp://u:p@smarthost.test:2525",
            "hostname": "pr.test",
        },
        env={},
        toml_path=tmp_path / "none.toml",
    )
    transport = build_transport(settings)
    assert isinstance(transport, RelayTransport) and transport.needs_content
    assert (transport.endpoint.host, transport.endpoint.port, transport.endpoint.tls) == (
        "smarthost.test",
        2525,
        "starttls",
    )
    with pytest.raises(ValueError):
        build_transport(load_settings(flags={}, env={}, toml_path=tmp_path / "none.toml"))


# --- a real Postfix --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postfix_server(certs: Certificates) -> Iterator[Postfix]:
    with postfix(["ann", "cid"], certs) as instance:
        yield instance


async def test_postfix_accepts_a_known_user_and_refuses_an_unknown_one(postfix_server: Postfix) -> None:
    transport = relay(f"smtp://127.0.0.1:{postfix_server.port}?tls=none")
    data = message("to postfix", "Hello Postfix.\r\n.dot line\r\n")
    outcomes = await transport.deliver([job("ann@example.test", data), job("bob@example.test", data)])
    await transport.close()
    assert outcomes[0].kind == "delivered" and outcomes[0].response.startswith("250 2.0.0 Ok: queued as ")
    assert outcomes[1].kind == "bounced"
    assert outcomes[1].response == (
        "550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown in virtual mailbox table"
    )
    [stored] = await asyncio.to_thread(postfix_server.wait_for_mail, "ann")
    assert stored.endswith(data.replace(b"\r\n", b"\n"))  # after Postfix's own Return-Path, Received…


async def test_postfix_over_verified_starttls(postfix_server: Postfix, certs: Certificates) -> None:
    transport = relay(f"smtp://localhost:{postfix_server.port}?tls=starttls", ca_file=str(certs.ca))
    data = message("over tls")
    [outcome] = await transport.deliver([job("cid@example.test", data)])
    await transport.close()
    assert outcome.kind == "delivered", outcome.response
    [stored] = await asyncio.to_thread(postfix_server.wait_for_mail, "cid")
    assert b"using TLS" in stored and stored.endswith(data.replace(b"\r\n", b"\n"))
