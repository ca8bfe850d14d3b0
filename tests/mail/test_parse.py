"""Reading messages: submitted headers are refused or skipped cleanly, stored messages always describe."""

from __future__ import annotations

import contextlib
import os
import random
from email.message import EmailMessage
from email.policy import default

import pytest

from postroom.mail.addresses import Address
from postroom.mail.parse import (
    InvalidMessage,
    attachment_meta,
    describe,
    header_items,
    part_content,
    read_submitted,
    strip_bcc,
)

# Header lines that made the standard parser raise (IndexError, TypeError, …) or that hold bytes and
# characters a reader must survive.
HOSTILE = [
    b"Message-ID: <",
    b'To: "',
    b"To: <",
    b"Cc: a@example.com, <",
    b"Reply-To: <",
    b'Content-Type: multipart/mixed; boundary="',
    b'Content-Type: "',
    b"Content-Type: multipart/",
    b"Content-Type: ;;;",
    b"Content-Disposition: attachment; filename*=x'y'%ZZ",
    b'Content-Disposition: "',
    b'Content-Transfer-Encoding: "',
    b'Content-Type: text/plain; charset="\x00"',
    b"Content-Type: text/plain; charset=utf-99",
    b"From: \xff\xfe@example.com",
    b"Subject: \xff[,",
    b"Subject: =?utf-8?q?a=00b?=",
    b"Date: 99999",
]


def _message(line: bytes) -> bytes:
    return b"From: a@example.com\r\nTo: t@example.com\r\n" + line + b"\r\nSubject: s\r\n\r\nbody\r\n"


@pytest.mark.parametrize("line", HOSTILE, ids=[h.decode("latin-1") for h in HOSTILE])
def test_stored_messages_always_describe(line: bytes) -> None:
    raw = _message(line)
    info = describe(raw)
    assert info["headers"][0] == {"name": "From", "value": "a@example.com"}
    assert len(info["headers"]) == 4
    assert all(isinstance(h["value"], str) for h in info["headers"])
    assert len(header_items(raw)) == 4
    assert part_content(raw, 0) is not None
    attachment_meta(raw)
    lenient = read_submitted(raw, strict=False)
    assert isinstance(lenient.subject, str) and "\x00" not in lenient.subject


def test_an_unparsable_header_is_shown_raw() -> None:
    items = dict(header_items(_message(b"Message-ID: <")))
    assert items["Message-ID"] == "<" and items["Subject"] == "s"
    items = dict(header_items(b"From: a@example.com\r\nSubject: \xff\xfe\r\n\r\nbody"))
    assert items["Subject"] == "\ufffd\ufffd"


def test_random_headers_never_raise_from_readers() -> None:
    rng = random.Random(7)
    alphabet = b"<>\"'()@,;:\\=?*% \t\r\nabc\x00\xff/[]"
    names = [b"To", b"From", b"Content-Type", b"Content-Disposition", b"Message-ID", b"Date", b"Subject"]
    for _ in range(3000):
        value = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        raw = b"From: a@example.com\r\n" + rng.choice(names) + b": " + value + b"\r\n\r\nbody\r\n"
        describe(raw)
        header_items(raw)
        attachment_meta(raw)
        part_content(raw, 0)
        read_submitted(raw, strict=False)
        with contextlib.suppress(InvalidMessage):
            read_submitted(raw, strict=True)


@pytest.mark.parametrize(
    "line",
    [
        b'To: "',
        b"To: <",
        b"To: \xc3\xbc@example.com",
        b"To: Zo\xc3\xab <z@example.com>",
        b"Message-ID: <",
        b"Date: someday",
        b"Subject: =?utf-8?q?a=0Bb?=",
        b"To: =?utf-8?q?A=00?= <t@example.com>",
    ],
)
def test_strict_reading_refuses_what_it_cannot_use(line: bytes) -> None:
    with pytest.raises(InvalidMessage):
        read_submitted(_message(line), strict=True)


def test_lenient_reading_skips_bad_addresses_and_blanks_controls() -> None:
    raw = (
        b"From: =?utf-8?q?A=00B?= <a@example.com>\r\nTo: t@example.com, <\r\nCc: \xc3\xbc@example.com\r\n"
        b"Subject: =?utf-8?q?x=0By?=\r\n\r\nbody"
    )
    head = read_submitted(raw, strict=False)
    assert [a.addr for a in head.to] == ["t@example.com"] and head.cc == []
    assert head.subject == "x y" and head.sender == Address("a@example.com", "A B")


def test_common_address_forms_are_read_strictly() -> None:
    raw = (
        b"From: John Q. Public <jqp@example.com>\r\n"
        b'To: "Doe, John" <j@example.com>,\r\n Team: a@example.com, b@example.com;\r\n'
        b"Cc: undisclosed-recipients:;\r\nBcc: =?utf-8?q?J=C3=BCrgen?= <j@example.de>\r\n"
        b"Message-ID: <id.1@example.com>\r\nDate: Fri, 02 Jan 2026 15:04:05 +0000\r\n\r\nbody"
    )
    head = read_submitted(raw)
    assert head.sender is not None and head.sender.name == "John Q. Public"
    assert [a.addr for a in head.to] == ["j@example.com", "a@example.com", "b@example.com"]
    assert head.cc == [] and head.bcc[0].name == "Jürgen" and head.message_id == "<id.1@example.com>"


def test_strip_bcc_removes_resent_bcc_too() -> None:
    raw = (
        b"From: a@example.com\r\nBcc: x@example.com,\r\n y@example.com\r\nResent-Bcc: z@example.com\r\n"
        b"resent-bcc : w@example.com\r\nSubject: s\r\n\r\nBcc: stays in the body\r\n"
    )
    assert strip_bcc(raw) == b"From: a@example.com\r\nSubject: s\r\n\r\nBcc: stays in the body\r\n"


def test_attachment_meta_matches_the_parts() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg.set_content("text")
    msg.add_alternative("<p>html</p>", subtype="html")
    big = os.urandom(100_001)
    msg.add_attachment(big, maintype="application", subtype="octet-stream", filename="big.bin")
    msg.add_attachment("Grüße\n" * 3, subtype="plain", filename="Grüße.txt", cte="quoted-printable")
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("x")
    msg.add_attachment(inner)
    for linesep in ("\r\n", "\n"):
        meta = attachment_meta(msg.as_bytes(policy=default.clone(linesep=linesep)))
        assert [(m["filename"], m["mimetype"]) for m in meta] == [
            ("big.bin", "application/octet-stream"),
            ("Grüße.txt", "text/plain"),
            ("", "message/rfc822"),
        ]
        assert meta[0]["size"] == len(big)
        assert meta[1]["size"] == len(("Grüße" + linesep).encode() * 3)
    assert attachment_meta(b"From: a@example.com\r\n\r\nplain") == []
    assert attachment_meta(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n") == []
