"""SMTP senders of subaccounts: a closed subaccount cannot send, and the monthly quota holds on SMTP."""

from __future__ import annotations

import asyncio
import smtplib

import aiosmtplib
import pytest
from sqlalchemy import update

from conftest import RunningServer
from envelope_checks import ok
from postroom.smtp import replies
from postroom.storage.tables import accounts

USERNAME = "sub-smtp-user"


def _subaccount_user(server: RunningServer) -> tuple[str, str]:
    """A new subaccount and the password of its SMTP user USERNAME."""
    sub: str = ok(server.post("subaccount/add", {"fullname": "SMTP team"}))["id"]
    added = ok(server.post("users/smtp/add", {"username": USERNAME, "subaccount_id": sub}))
    password: str = added["results"][0]["email_password"]
    return sub, password


def _set_plan(server: RunningServer, account_id: str, plan: int) -> None:
    server.app.state.services.db.write_sync(
        lambda conn: conn.execute(update(accounts).where(accounts.c.id == account_id).values(plan_size=plan))
    )


def _client(server: RunningServer, password: str) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.app.state.smtp.ports[0], timeout=30)
    client.ehlo("client.example")
    client.login(USERNAME, password)
    return client


def _data(subject: str = "hi") -> bytes:
    return f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


def _send(client: smtplib.SMTP) -> tuple[int, str]:
    code, reply = client.mail("a@example.com")
    if code != 250:
        return code, reply.decode()
    assert client.rcpt("b@example.com")[0] == 250
    code, reply = client.data(_data())
    return code, reply.decode()


def test_a_closed_subaccounts_smtp_user_is_refused_until_it_is_reopened(server: RunningServer) -> None:
    sub, password = _subaccount_user(server)
    early = _client(server, password)  # authenticated before the close
    ok(server.post("subaccount/close", {"id": sub}))
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        _client(server, password)
    assert refused.value.smtp_code == 535 and b"5.7.8" in refused.value.smtp_error
    code, reply = early.mail("a@example.com")
    assert code == 550 and reply.decode() == replies.SENDER_REFUSED.format(
        reason=f"the subaccount {sub} is closed"
    ).removeprefix("550 ")
    early.close()
    ok(server.post("subaccount/reopen", {"id": sub}))
    with _client(server, password) as client:
        assert _send(client)[0] == 250


def test_an_exhausted_monthly_quota_is_refused_at_mail_from(server: RunningServer) -> None:
    sub, password = _subaccount_user(server)
    _set_plan(server, sub, 2)
    with _client(server, password) as client:
        assert _send(client)[0] == 250
        assert _send(client)[0] == 250
        code, reply = client.mail("a@example.com")
        assert code == 550
        quota = "the monthly email quota of 2 emails is exhausted (2 sent this month)"
        assert reply.decode() == f"5.7.1 Sender not allowed: {quota}"
    ok(server.post("subaccount/edit", {"id": sub, "limit": 2000}))  # a bigger plan lets mail through
    with _client(server, password) as client:
        assert _send(client)[0] == 250


def test_parallel_smtp_sessions_cannot_overshoot_the_quota(server: RunningServer) -> None:
    sub, password = _subaccount_user(server)
    _set_plan(server, sub, 1)
    port = server.app.state.smtp.ports[0]

    async def session(all_at_data: asyncio.Barrier) -> int:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
        await client.connect()
        try:
            await client.login(USERNAME, password)
            await client.mail("a@example.com")  # every session passes MAIL FROM: nothing is stored yet
            await client.rcpt("b@example.com")
            await all_at_data.wait()
            try:
                response = await client.data(_data())
            except aiosmtplib.SMTPDataError as exc:
                assert exc.code == 550 and "quota" in exc.message
                return exc.code
            return response.code
        finally:
            await client.quit()

    async def all_sessions() -> list[int]:
        barrier = asyncio.Barrier(5)
        return await asyncio.gather(*(session(barrier) for _ in range(5)))

    codes = asyncio.run(all_sessions())
    assert sorted(codes) == [250, 550, 550, 550, 550]
