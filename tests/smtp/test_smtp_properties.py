"""Property test of the SMTP path (Hypothesis): generated messages submitted to a real Postroom over SMTP
are stored byte for byte as sent, and the capture API reads them as generated.

What the SMTP door promises for the stored copy (tests/smtp/test_submission.py, decisions.md): a
Received header is prepended; Bcc and Resent-Bcc headers are removed; Message-ID and Date are added
only when missing (the generated messages carry both); dot-stuffing is undone; nothing else changes.
One server (per backend) takes every example over one authenticated connection.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RunningServer
from mime_strategies import CRLF, Expected, messages

EXAMPLES = int(os.environ.get("POSTROOM_HYPOTHESIS_SMTP_EXAMPLES", "40"))
TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE
RECEIVED = re.compile(rb"Received: from [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*")

# Bcc headers as clients write them (and the stored copy must not carry), and body lines that start with
# a dot (which SMTP stuffs and Postroom must unstuff).
_BCC = st.sampled_from(
    [
        b"",
        b"Bcc: hidden@example.test\r\n",
        b"BCC: a@example.test,\r\n b@example.test\r\n",
        b"Resent-Bcc: r@example.test\r\n",
    ]
)
_DOT_LINES = st.sampled_from([b"", b".\r\n", b"..double\r\n", b".leading dot\r\n. \r\n"])


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """One server per test and backend, without the per-key endpoint limits (many reads follow)."""
    return make_server(endpoint_rate_limits=False)


def _login(server: RunningServer) -> smtplib.SMTP:
    r = server.post("users/smtp/add", {"username": "prop-user"})
    assert r.status_code == 200, r.text
    password = r.json()["data"]["results"][0]["email_password"]
    client = smtplib.SMTP("127.0.0.1", server.app.state.smtp.ports[0], timeout=30)
    client.ehlo("client.example")
    client.starttls(context=TLS)
    client.ehlo("client.example")
    client.login("prop-user", password)
    return client


def _with_extras(raw: bytes, bcc: bytes, dots: bytes) -> tuple[bytes, bytes]:
    """(what is sent, what must be stored after the Received header): a Bcc header before Subject, and
    dot lines at the end of the body (a multipart's epilogue, or the single part's last lines)."""
    end = raw.index(b"\r\nSubject: ") + 2  # a header's first line (From and To may be folded)
    body = raw if raw.endswith(b"\r\n") else raw + b"\r\n"  # SMTP data ends with a line break
    sent = body[:end] + bcc + body[end:] + dots
    return sent, body + dots


def _capture(server: RunningServer, email_id: str, path: str = "") -> httpx.Response:
    with server.client() as c:
        return c.get(f"/api/v1/messages/{email_id}{path}", headers={"X-Smtp2go-Api-Key": server.key})


def _check_view(detail: dict[str, Any], expected: Expected) -> None:
    assert detail["subject"] == expected.subject
    assert detail["to"] == [addr for _, addr in expected.to]
    if not detail["parts"][0]["content_type"].startswith("multipart/"):
        # a single part's body ends with the line break SMTP needs (RFC 5321 §4.1.1.4) and the dot
        # lines: the stored bytes are the check there (the reading is tests/mail/test_parse_properties)
        return
    assert detail["text"] == (expected.text or "")
    assert detail["html"] == (expected.html or "")
    attachments = detail["attachments"]
    assert [(a["filename"], a["size"]) for a in attachments] == [
        (f.filename, len(f.content)) for f in expected.files
    ]


def test_generated_messages_are_stored_as_sent(server: RunningServer) -> None:
    client = _login(server)
    try:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(messages(), _BCC, _DOT_LINES)
        def submit(case: tuple[bytes, Expected, list[tuple[str, str]]], bcc: bytes, dots: bytes) -> None:
            raw, expected, _ = case
            sent, stored = _with_extras(raw, bcc, dots)
            client.mail("sender@example.test", ["BODY=8BITMIME"])
            assert client.rcpt("rcpt@example.test")[0] == 250
            code, reply = client.data(sent)
            assert code == 250, reply
            email_id = reply.decode().split("id=")[1]
            got = _capture(server, email_id, "/raw").content
            received = RECEIVED.match(got)
            assert received, got[:200]
            assert got[received.end() :] == stored
            detail = _capture(server, email_id).json()
            _check_view(detail, expected)

        submit()
    finally:
        client.close()


def test_the_text_of_a_single_part_ends_with_what_was_sent(server: RunningServer) -> None:
    """A plain one-part message: its text reads back exactly, dot lines and final line break included."""
    client = _login(server)
    try:
        body = "first\r\n.dot\r\n..two\r\nlast"
        data = f"From: a@example.test{CRLF}To: b@example.test{CRLF}Subject: dots{CRLF}{CRLF}{body}{CRLF}"
        client.mail("a@example.test")
        assert client.rcpt("b@example.test")[0] == 250
        code, reply = client.data(data.encode())
        assert code == 250
        detail = _capture(server, reply.decode().split("id=")[1]).json()
        assert detail["text"] == body + CRLF
    finally:
        client.close()


_JUNK_LINE = st.one_of(
    st.binary(max_size=120).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from(
        [
            "Subject: Grüße \x00 nul and \x1b escape".encode(),
            'From: "Jörg\x00" <j\x00rg@example.test>'.encode(),
            b'To: \xff\xfe@example.test, <>, "unterminated',
            b"Subject: =?utf-8?b?AA==?=",  # an encoded NUL
            b"Subject: =?utf-8?q?=00=1B?=",
            b'Content-Type: multipart/mixed; boundary=""',
            b"Content-Disposition: attachment; filename*=utf-8''%00%FF",
            b"Reply-To: =?utf-8?b?AA==?= <a@b.example>",
            b"Message-ID: <\x00@example.test>",
            b"From: =?utf-8?b?8J+Ukg==?= <emoji@example.test>",
        ]
    ),
)


def test_any_header_bytes_are_stored_or_refused_never_a_crash(server: RunningServer) -> None:
    """Headers with NUL, escape and 8-bit bytes, broken words and addresses (which PostgreSQL text
    cannot all hold): the message is accepted and stored as sent, or refused with a 5xx."""
    client = _login(server)
    try:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.lists(_JUNK_LINE, max_size=6), st.binary(max_size=300))
        def submit(lines: list[bytes], body: bytes) -> None:
            head = b"".join(line + b"\r\n" for line in lines if line and line[:1] not in (b" ", b"\t", b"."))
            data = (
                b"Message-ID: <junk.1@example.test>\r\nDate: Fri, 04 Dec 2026 18:00:00 +0000\r\n"
                + head
                + b"\r\n"
                + body.replace(b"\r", b"").replace(b"\n", b"\r\n")
                + b"\r\n"
            )
            client.mail("sender@example.test", ["BODY=8BITMIME"])
            assert client.rcpt("rcpt@example.test")[0] == 250
            code, reply = client.data(data)
            assert code == 250 or 500 <= code < 600, (code, reply)
            if code != 250:
                return
            email_id = reply.decode().split("id=")[1]
            got = _capture(server, email_id, "/raw").content
            received = RECEIVED.match(got)
            assert received
            if b"bcc" not in data.lower():
                assert got[received.end() :] == data
            assert _capture(server, email_id).status_code == 200
            with server.client() as c:
                listed = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key})
            assert listed.status_code == 200
            assert server.post("activity/search", {"search_email_id": email_id}).status_code == 200

        submit()
    finally:
        client.close()
