"""The lists enforced on every door: /email/send, /email/mime and /email/batch (failures inside a 200,
decisions.md) and SMTP (550 5.7.1 at MAIL FROM and RCPT TO), through a real server."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from conftest import RunningServer
from envelope_checks import ok as _ok
from postroom.smtp import replies
from postroom.storage.tables import messages

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE
MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\n\r\nBody\r\n"


def _body(sender: str = "s@example.com", to: list[str] | None = None) -> dict[str, Any]:
    return {"sender": sender, "to": to or ["t@example.com"], "subject": "subject", "text_body": "x"}


def _send(server: RunningServer, key: str = "default", **fields: Any) -> Any:
    return _ok(server.post("email/send", _body(**fields), key=key))


def _senders(server: RunningServer, entries: list[str], mode: str, key: str = "default") -> None:
    _ok(server.post("allowed_senders/update", {"allowed_senders": entries, "mode": mode}, key=key))


def _recipients(server: RunningServer, entries: list[str], enabled: bool) -> None:
    _ok(server.post("allowed_recipients/update", {"allowed_recipients": entries, "enabled": enabled}))


def _stored(server: RunningServer) -> int:
    db = server.app.state.services.db
    count: int = db.read_sync(lambda c: c.execute(select(func.count()).select_from(messages)).scalar_one())
    return count


def _refused(data: Any, failure: str) -> None:
    assert (data["succeeded"], data["failed"], data["email_id"]) == (0, 1, "")
    assert data["failures"] == [failure]


def test_whitelist_lets_only_listed_senders_send(server: RunningServer) -> None:
    _senders(server, ["ok.example", "Boss@Example.com"], "whitelist")
    _refused(
        _send(server, sender="Eve <eve@example.com>"),
        "Sender 'eve@example.com' is not an allowed sender for this account",
    )
    assert _stored(server) == 0
    assert _send(server, sender="anyone@OK.example")["succeeded"] == 1
    assert _send(server, sender="boss@example.com")["succeeded"] == 1
    assert _send(server, sender="x@sub.ok.example")["succeeded"] == 0  # a domain entry is that domain only
    assert _stored(server) == 2


def test_blacklist_stops_listed_senders(server: RunningServer) -> None:
    _senders(server, ["spammy.example"], "blacklist")
    _refused(
        _send(server, sender="a@Spammy.example"),
        "Sender 'a@Spammy.example' is a blocked sender for this account",
    )
    assert _send(server, sender="a@fine.example")["succeeded"] == 1


def test_mime_and_batch_are_checked_too(server: RunningServer) -> None:
    _senders(server, ["ok.example"], "whitelist")
    mime = b"From: bad@example.com\r\nTo: t@example.com\r\nSubject: s\r\n\r\nx\r\n"
    data = _ok(server.post("email/mime", {"mime_email": base64.b64encode(mime).decode()}))
    _refused(data, "Sender 'bad@example.com' is not an allowed sender for this account")
    batch = _ok(server.post("email/batch", {"emails": [_body("a@ok.example"), _body("b@bad.example")]}))
    assert [item["succeeded"] for item in batch] == [1, 0]


def test_allowed_recipients_refuse_the_others_and_send_to_the_rest(server: RunningServer) -> None:
    _recipients(server, ["team.example", "ceo@example.com"], True)
    data = _send(server, to=["a@team.example", "CEO@example.com", "stranger@example.com"])
    assert (data["succeeded"], data["failed"]) == (1, 0) and data["email_id"]
    assert data["failures"] == [
        "Recipient 'stranger@example.com' is not an allowed recipient for this account"
    ]
    events = server.wait_for_events(data["email_id"], 4)
    assert {e["recipient"] for e in events} == {"a@team.example", "CEO@example.com"}
    assert {e["event"] for e in events} == {"processed", "delivered"}
    _refused(
        _send(server, to=["stranger@example.com"]),
        "Recipient 'stranger@example.com' is not an allowed recipient for this account",
    )


def test_turning_the_lists_off_restores_sending(server: RunningServer) -> None:
    _senders(server, [], "whitelist")
    _recipients(server, [], True)
    assert _send(server)["succeeded"] == 0
    _senders(server, [], "disabled")
    data = _send(server)
    assert data["succeeded"] == 0 and "allowed recipient" in data["failures"][0]
    _recipients(server, ["t@example.com"], False)
    data = _send(server)
    assert (data["succeeded"], data["failed"], data["failures"]) == (1, 0, []) and data["email_id"]


def test_another_accounts_lists_do_not_apply(server: RunningServer) -> None:
    other = server.account_key()
    _senders(server, [], "whitelist", key=other)
    assert _send(server)["succeeded"] == 1
    assert _send(server, key=other)["succeeded"] == 0


# --- SMTP ------------------------------------------------------------------------------------------


@pytest.fixture
def smtp(server: RunningServer) -> Iterator[smtplib.SMTP]:
    """An SMTP client that did STARTTLS and AUTH as a new SMTP user of the master account."""
    r = server.post("users/smtp/add", {"username": "lists-user"})
    password = _ok(r)["results"][0]["email_password"]
    client = smtplib.SMTP("127.0.0.1", server.app.state.smtp.ports[0], timeout=30)
    client.ehlo("client.example")
    client.starttls(context=TLS)
    client.ehlo("client.example")
    client.login("lists-user", password)
    yield client
    client.close()


def _reply(answer: tuple[int, bytes]) -> str:
    code, text = answer
    return f"{code} {text.decode()}"


def test_smtp_refuses_a_sender_at_mail_from(server: RunningServer, smtp: smtplib.SMTP) -> None:
    _senders(server, ["ok.example"], "whitelist")
    reason = "Sender 'eve@example.com' is not an allowed sender for this account"
    assert _reply(smtp.mail("eve@example.com")) == replies.SENDER_REFUSED.format(reason=reason)
    smtp.rset()
    assert smtp.mail("a@OK.example")[0] == 250
    assert smtp.rcpt("t@example.com")[0] == 250
    assert smtp.data(MESSAGE)[0] == 250
    _senders(server, ["ok.example"], "blacklist")
    reason = "Sender 'a@ok.example' is a blocked sender for this account"
    assert _reply(smtp.mail("a@ok.example")) == replies.SENDER_REFUSED.format(reason=reason)
    assert _stored(server) == 1


def test_smtp_refuses_a_recipient_at_rcpt_to(server: RunningServer, smtp: smtplib.SMTP) -> None:
    _recipients(server, ["team.example"], True)
    assert smtp.mail("a@example.com")[0] == 250
    reason = "Recipient 'x@elsewhere.example' is not an allowed recipient for this account"
    assert _reply(smtp.rcpt("x@elsewhere.example")) == replies.RECIPIENT_REFUSED.format(reason=reason)
    smtp.rset()
    assert _stored(server) == 0
    assert smtp.mail("a@example.com")[0] == 250
    assert smtp.rcpt("b@Team.example")[0] == 250
    assert smtp.rcpt("x@elsewhere.example")[0] == 550
    code, reply = smtp.data(MESSAGE)
    assert code == 250
    events = server.wait_for_events(reply.decode().split("id=")[1], 2)
    assert {e["recipient"] for e in events} == {"b@Team.example"}
    _recipients(server, [], False)
    assert smtp.mail("a@example.com")[0] == 250
    assert smtp.rcpt("x@elsewhere.example")[0] == 250
