"""The outbound SMTP session on its own: greeting, extensions, transactions, reuse, the pool."""

from __future__ import annotations

import asyncio

import pytest
from peers import Script, ScriptedPeer, free_port, job, message

from postroom.delivery.sessions import SessionPool, group_transactions
from postroom.delivery.smtp_client import (
    Endpoint,
    SessionError,
    SmtpSession,
)


def endpoint(port: int) -> Endpoint:
    return Endpoint("127.0.0.1", port, tls="none")


async def test_one_session_carries_several_transactions_and_quits() -> None:
    async with ScriptedPeer() as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        first = await session.send("b@pr.test", ["a@x.test", "b@x.test"], message("one"))
        assert await session.reset()
        second = await session.send("b@pr.test", ["c@x.test"], message("two"))
        assert session.transactions == 2 and session.alive
        await session.close()
        assert not session.alive
        await asyncio.sleep(0.05)
    assert [o.kind if o else None for o in first + second] == ["delivered"] * 3
    assert first[0] is not None and first[0].response == "250 2.0.0 Ok: queued as 1"
    assert [m.rcpt_tos for m in peer.messages] == [["a@x.test", "b@x.test"], ["c@x.test"]]
    assert peer.ehlo_names == ["client.test"] and peer.connections == 1 and peer.gauge.current == 0


async def test_ehlo_not_recognised_falls_back_to_helo() -> None:
    async with ScriptedPeer(script=Script(ehlo="502 5.5.1 EHLO not implemented")) as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        [outcome] = await session.send("b@pr.test", ["a@x.test"], message("helo"))
        await session.close()
    assert outcome is not None and outcome.kind == "delivered"
    assert peer.messages[0].mail_options == []  # no ESMTP, so no SIZE


async def test_a_refused_ehlo_is_a_permanent_session_error() -> None:
    async with ScriptedPeer(script=Script(ehlo="550 5.7.1 go away")) as peer:
        with pytest.raises(SessionError) as raised:
            await SmtpSession.open(endpoint(peer.port), "client.test", 5)
    error = raised.value
    assert (error.message, error.stage, error.permanent, error.host) == (
        "550 5.7.1 go away",
        "ehlo",
        True,
        "127.0.0.1",
    )
    assert error.outcome().kind == "bounced"


async def test_8bit_bodies_and_utf8_addresses_use_their_extensions() -> None:
    data = "Subject: café\r\n\r\nnaïve\r\n".encode()
    async with ScriptedPeer() as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        [outcome] = await session.send("b@pr.test", ["jürgen@x.test"], data)
        await session.close()
    assert outcome is not None and outcome.kind == "delivered", outcome
    [received] = peer.messages
    assert received.data == data and received.rcpt_tos == ["jürgen@x.test"]
    assert "BODY=8BITMIME" in received.mail_options


async def test_utf8_addresses_bounce_when_the_peer_lacks_smtputf8() -> None:
    async with ScriptedPeer(smtputf8=False) as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        [outcome] = await session.send("b@pr.test", ["jürgen@x.test"], message("utf8"))
        await session.close()
    assert outcome is not None and outcome.kind == "bounced" and "SMTPUTF8" in outcome.response
    assert peer.messages == [] and "MAIL" not in peer.commands


async def test_a_refused_rcpt_among_others_and_all_refused() -> None:
    script = Script(rcpt={"bad@x.test": "550 5.1.1 unknown", "busy@x.test": "450 4.2.1 busy"})
    async with ScriptedPeer(script=script) as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        mixed = await session.send("b@pr.test", ["bad@x.test", "ok@x.test", "busy@x.test"], message("m"))
        none = await session.send("b@pr.test", ["bad@x.test"], message("n"))
        await session.close()
    assert [(o.kind, o.response) if o else None for o in mixed] == [
        ("bounced", "550 5.1.1 unknown"),
        ("delivered", "250 2.0.0 Ok: queued as 1"),
        ("deferred", "450 4.2.1 busy"),
    ]
    assert [o.kind if o else None for o in none] == ["bounced"]
    assert peer.commands.count("DATA") == 1 and "RSET" in peer.commands  # no DATA without a recipient


async def test_too_many_recipients_leaves_the_rest_for_another_transaction() -> None:
    async with ScriptedPeer(script=Script(max_recipients=1)) as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        results = await session.send("b@pr.test", ["a@x.test", "b@x.test", "c@x.test"], message("m"))
        await session.close()
    assert results[0] is not None and results[0].kind == "delivered" and results[1:] == [None, None]


async def test_a_session_closed_by_the_peer_fails_before_mail_and_reset_says_so() -> None:
    async with ScriptedPeer() as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 5)
        peer.drop_connections()
        await asyncio.sleep(0.05)
        with pytest.raises(SessionError) as raised:
            await session.send("b@pr.test", ["a@x.test"], message("m"))
        assert raised.value.stage == "mail" and not raised.value.permanent
        assert not await session.reset()


async def test_the_pool_checks_sessions_before_reuse_and_keeps_at_most_its_capacity() -> None:
    async with ScriptedPeer() as peer:
        pool = SessionPool(capacity=1)
        sessions = [await SmtpSession.open(endpoint(peer.port), "client.test", 5) for _ in range(2)]
        for session in sessions:
            await pool.put(session)
        assert len(pool) == 1 and not sessions[1].alive  # over capacity: closed
        assert await pool.take() is sessions[0]
        await pool.put(sessions[0])
        peer.drop_connections()
        await asyncio.sleep(0.05)
        assert await pool.take() is None  # dead: RSET failed, so it was closed instead
        assert len(pool) == 0


async def test_connection_refused_is_a_temporary_session_error() -> None:
    port = free_port()
    with pytest.raises(SessionError) as raised:
        await SmtpSession.open(endpoint(port), "client.test", 5)
    assert raised.value.message == f"connection refused by 127.0.0.1:{port}"
    assert raised.value.outcome().kind == "deferred"


async def test_a_peer_silent_after_the_message_defers_with_a_timeout() -> None:
    async with ScriptedPeer(script=Script(delay=1.0)) as peer:
        session = await SmtpSession.open(endpoint(peer.port), "client.test", 0.2)
        [outcome] = await session.send("b@pr.test", ["a@x.test"], message("slow"))
        await session.close()
    assert outcome is not None and outcome.kind == "deferred"
    assert outcome.response == f"timed out after 0.2 s waiting for 127.0.0.1:{peer.port} at DATA"
    assert not session.alive


def test_group_transactions_by_domain_sender_and_bytes() -> None:
    data, other = message("a"), message("b")
    jobs = [
        job("1@x.test", data),
        job("2@x.test", data),
        job("3@y.test", data),
        job("4@x.test", other),
        job("5@x.test", data, mail_from="other@pr.test"),
        job("6@X.TEST", data),
    ]
    assert group_transactions(jobs, 50) == [[0, 1, 5], [2], [3], [4]]
    assert group_transactions(jobs, 2) == [[0, 1], [2], [3], [4], [5]]
