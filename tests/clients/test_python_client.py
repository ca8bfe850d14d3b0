"""The official PyPI client `smtp2go` 2.3.1, unchanged, against a running Postroom.

The client has no base-URL option: `API_ROOT` is imported by value into `smtp2go.core`, so that is
the name to patch (reference §9). What it sent is read back through the capture API and re-parsed
with Python's `email` package.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import smtp2go.core
from capture_api import (
    addr_specs,
    event_pairs,
    fetch_detail,
    fetch_message,
    is_uuid,
    list_messages,
    processed_and_delivered,
    text_of,
)
from smtp2go.core import Smtp2goClient, Smtp2goResponse

from conftest import RunningServer

INVALID_IN_PAYLOAD = "E_ApiResponseCodes.INVALID_IN_PAYLOAD"
API_EXCEPTION = "E_ApiResponseCodes.API_EXCEPTION"
UNKNOWN_KEY = "api-" + "0" * 32  # well formed, but not a key of this server
MALFORMED_KEY = "not-an-smtp2go-key"


@pytest.fixture
def pointed(server: RunningServer) -> Iterator[RunningServer]:
    """The server, with the client's API root pointed at it for the duration of the test."""
    original = smtp2go.core.API_ROOT
    smtp2go.core.API_ROOT = server.v3
    try:
        yield server
    finally:
        smtp2go.core.API_ROOT = original


def assert_sent(resp: Smtp2goResponse) -> str:
    """The response of an accepted send, checked as the client exposes it; returns the email_id."""
    assert resp.status_code == 200, resp.json
    assert resp.success is True
    assert resp.errors == []
    assert is_uuid(resp.request_id) and resp.request_id == resp.json["request_id"]
    data = resp.json["data"]
    assert data["succeeded"] == 1 and data["failed"] == 0 and data["failures"] == []
    assert isinstance(data["email_id"], str) and data["email_id"]
    assert all(isinstance(v, int) for v in resp.rate_limit)  # x-ratelimit-* parsed, or 0 when absent
    email_id: str = data["email_id"]
    return email_id


def test_plain_text(pointed: RunningServer) -> None:
    client = Smtp2goClient(api_key=pointed.key)
    text = "Hello,\nthis is plain text from smtp2go-python.\n\n-- \nPostroom tests"
    resp = client.send(
        sender="Python Sender <sender@example.com>",
        recipients=["first@example.com", "Second Person <second@example.org>"],
        subject="Plain text from smtp2go-python",
        text=text,
    )
    email_id = assert_sent(resp)

    msg = fetch_message(pointed, email_id)
    assert msg["Subject"] == "Plain text from smtp2go-python"
    sender = msg["From"].addresses
    assert len(sender) == 1
    assert (sender[0].display_name, sender[0].addr_spec) == ("Python Sender", "sender@example.com")
    assert addr_specs(msg, "To") == ["first@example.com", "second@example.org"]
    assert msg["To"].addresses[1].display_name == "Second Person"
    assert msg["Cc"] is None and msg["Bcc"] is None
    assert msg["Date"] is not None and email_id in msg["Message-ID"]
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    assert text_of(msg) == text
    # The client adds its X-Smtp2go-Api* markers to the e-mail only when custom headers are given.
    assert msg["X-Smtp2go-Api"] is None

    events = pointed.wait_for_events(email_id, 4)
    assert event_pairs(events) == processed_and_delivered(["first@example.com", "second@example.org"])


def test_api_key_from_environment(pointed: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP2GO_API_KEY", pointed.key)
    resp = Smtp2goClient().send(
        sender="env@example.com", recipients=["to@example.com"], subject="Key from SMTP2GO_API_KEY", text="hi"
    )
    email_id = assert_sent(resp)
    assert fetch_message(pointed, email_id)["Subject"] == "Key from SMTP2GO_API_KEY"


def test_html_and_text(pointed: RunningServer) -> None:
    client = Smtp2goClient(api_key=pointed.key)
    text = "Grüße aus dem Café — plain part"
    html = "<html><body><h1>Grüße</h1><p>aus dem <b>Café</b> — HTML part</p></body></html>"
    subject = "HTML und Text — Grüße ✓"
    resp = client.send(
        sender="sender@example.com", recipients=["reader@example.com"], subject=subject, text=text, html=html
    )
    email_id = assert_sent(resp)

    msg = fetch_message(pointed, email_id)
    assert msg["Subject"] == subject
    assert addr_specs(msg, "From") == ["sender@example.com"]
    assert addr_specs(msg, "To") == ["reader@example.com"]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    plain, rich = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    assert text_of(plain) == text
    assert text_of(rich) == html

    events = pointed.wait_for_events(email_id, 2)
    assert event_pairs(events) == processed_and_delivered(["reader@example.com"])


def test_html_only_gets_a_generated_text_part(pointed: RunningServer) -> None:
    client = Smtp2goClient(api_key=pointed.key)
    html = "<p>Only <em>HTML</em> was given.</p>"
    email_id = assert_sent(
        client.send(
            sender="sender@example.com", recipients=["reader@example.com"], subject="HTML only", html=html
        )
    )
    msg = fetch_message(pointed, email_id)
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    assert text_of(rich) == html
    assert "Only" in text_of(plain) and "HTML" in text_of(plain) and "<p>" not in text_of(plain)


def test_custom_headers(pointed: RunningServer) -> None:
    client = Smtp2goClient(api_key=pointed.key)
    custom = {"X-Campaign": "spring-2026", "X-Trace-Id": "trace-0042", "Reply-To": "replies@example.com"}
    resp = client.send(
        sender="sender@example.com",
        recipients=["reader@example.com"],
        subject="Custom headers",
        text="see the headers",
        custom_headers=custom,
    )
    email_id = assert_sent(resp)
    # The client's quirk: it mutates the dict it was given, adding its own markers, and sends the
    # whole dict both as HTTP request headers and as the e-mail's custom_headers.
    assert custom["X-Smtp2go-Api"] == "smtp2go-python"
    assert custom["X-Smtp2go-Api-Version"] == smtp2go.core.__version__ == "2.3.1"

    msg = fetch_message(pointed, email_id)
    assert msg["X-Campaign"] == "spring-2026"
    assert msg["X-Trace-Id"] == "trace-0042"
    assert addr_specs(msg, "Reply-To") == ["replies@example.com"]
    assert len(msg.get_all("Reply-To") or []) == 1
    assert msg["X-Smtp2go-Api"] == "smtp2go-python"
    assert msg["X-Smtp2go-Api-Version"] == "2.3.1"
    assert msg["Subject"] == "Custom headers" and text_of(msg) == "see the headers"
    assert fetch_detail(pointed, email_id)["reply_to"] == "replies@example.com"

    events = pointed.wait_for_events(email_id, 2)
    assert event_pairs(events) == processed_and_delivered(["reader@example.com"])


BAD_KEYS = [
    pytest.param(UNKNOWN_KEY, API_EXCEPTION, id="unknown-key"),
    pytest.param(MALFORMED_KEY, INVALID_IN_PAYLOAD, id="malformed-key"),
]


def _send_with(key: str) -> Smtp2goResponse:
    return Smtp2goClient(api_key=key).send(
        sender="sender@example.com",
        recipients=["reader@example.com"],
        subject="should not be stored",
        text="refused",
    )


@pytest.mark.parametrize(("key", "error_code"), BAD_KEYS)
def test_bad_key_is_refused_without_crashing_the_client(
    pointed: RunningServer, key: str, error_code: str
) -> None:
    resp = _send_with(key)  # must not raise (the client crashes when `data` is not an object)
    assert resp.success is False
    assert resp.status_code == 401
    assert is_uuid(resp.request_id)
    data = resp.json["data"]
    assert data["error_code"] == error_code
    assert isinstance(data["error"], str) and data["error"]
    assert list_messages(pointed) == []


@pytest.mark.parametrize(("key", "error_code"), BAD_KEYS)
def test_bad_key_error_reaches_client_errors(pointed: RunningServer, key: str, error_code: str) -> None:
    """`Smtp2goResponse.errors` is the client's only error accessor, and it reads `data.failures`."""
    resp = _send_with(key)
    assert resp.success is False
    assert resp.errors, f"the client sees no error: data = {resp.json['data']}"
    assert all(isinstance(e, str) and e for e in resp.errors)
