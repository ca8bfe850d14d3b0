"""Over SMTP, X-Smtp2go-Template-Id (and X-Smtp2go-Template-Data) render the message as the API does."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from clients.capture_api import fetch_message
from conftest import RunningServer
from envelope_checks import ok
from smtp.test_submission import TLS, add_user, smtp_port, submit

TEMPLATE = {
    "id": "smtp-welcome",
    "template_name": "Welcome",
    "subject": "Welcome {{ name }}",
    "html_body": '<p>Hello {{ name }}</p><img src="cid:logo">',
}


@pytest.fixture
def client(server: RunningServer) -> Iterator[smtplib.SMTP]:
    ok(server.post("template/add", TEMPLATE))
    password = add_user(server)
    smtp = smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30)
    smtp.ehlo("client.example")
    smtp.starttls(context=TLS)
    smtp.login("smtp-user-1", password)
    yield smtp
    smtp.close()


def _message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = "rcpt@example.net"
    msg["Subject"] = "replaced by the template's"
    msg["X-Campaign"] = "spring"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("replaced too")
    msg.add_related(b"PNGDATA", maintype="image", subtype="png", cid="<logo>")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    return msg


def _email_id(reply: str) -> str:
    return reply.split("id=", 1)[1].strip()


def test_the_template_headers_render_the_message_and_are_removed(
    server: RunningServer, client: smtplib.SMTP
) -> None:
    msg = _message()
    msg["X-Smtp2go-Template-Id"] = "smtp-welcome"
    msg["X-Smtp2go-Template-Data"] = json.dumps({"name": "Ann <a>", "unused": "x" * 100})
    code, reply = submit(client, "sender@example.com", ["rcpt@example.net"], msg.as_bytes(policy=SMTP))
    assert code == 250, reply
    stored = fetch_message(server, _email_id(reply))
    assert stored["Subject"] == "Welcome Ann <a>" and stored["X-Campaign"] == "spring"
    assert stored["X-Smtp2go-Template-Id"] is None and stored["X-Smtp2go-Template-Data"] is None
    body = {p.get_content_type(): p for p in stored.walk() if not p.is_multipart()}
    assert body["text/html"].get_content().strip() == '<p>Hello Ann &lt;a&gt;</p><img src="cid:logo">'
    assert "Hello Ann <a>" in body["text/plain"].get_content()  # generated from the HTML
    assert "replaced" not in stored.as_string()
    assert body["image/png"]["Content-ID"] == "<logo>" and body["image/png"].get_content() == b"PNGDATA"
    assert body["text/csv"].get_filename() == "data.csv"
    assert [p.get_content_type() for p in stored.walk() if p.is_multipart()] == [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
    ]


def test_a_plain_message_without_the_headers_is_untouched(
    server: RunningServer, client: smtplib.SMTP
) -> None:
    code, reply = submit(client, "sender@example.com", ["rcpt@example.net"], _message().as_bytes(policy=SMTP))
    assert code == 250, reply
    assert fetch_message(server, _email_id(reply))["Subject"] == "replaced by the template's"


def test_an_unknown_template_or_bad_data_is_refused_with_a_reply(client: smtplib.SMTP) -> None:
    unknown = _message(**{"X-Smtp2go-Template-Id": "nope-nope"})
    code, reply = submit(client, "sender@example.com", ["rcpt@example.net"], unknown.as_bytes(policy=SMTP))
    assert code == 554 and "nope-nope" in reply
    client.rset()
    bad = _message(**{"X-Smtp2go-Template-Id": "smtp-welcome", "X-Smtp2go-Template-Data": "[1, 2]"})
    code, reply = submit(client, "sender@example.com", ["rcpt@example.net"], bad.as_bytes(policy=SMTP))
    assert code == 554 and "template_data" in reply
