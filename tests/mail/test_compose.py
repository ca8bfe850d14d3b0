"""The MIME trees of /email/send, re-read with Python's own parser."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

from postroom.mail.addresses import parse_address
from postroom.mail.compose import Composition, Part, compose


def _compose(**kwargs: object) -> EmailMessage:
    base: dict[str, object] = dict(
        sender=parse_address("Sender <s@example.com>"),
        to=[parse_address("t@example.com")],
        cc=[],
        subject="Subject",
        message_id="<id@example.com>",
        date=datetime(2026, 1, 2, tzinfo=UTC),
    )
    base.update(kwargs)
    raw = compose(Composition(**base))  # type: ignore[arg-type]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def _tree(part: EmailMessage) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [_tree(p) for p in part.iter_parts()])  # type: ignore[arg-type]
    return part.get_content_type()


PNG = Part("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png", "logo")
PDF = Part("report.pdf", bytes(range(256)) * 10, "application/pdf")


def test_version_2_tree() -> None:
    msg = _compose(text="t", html="<p>h</p>", inlines=[PNG], attachments=[PDF], version=2)
    assert _tree(msg) == (
        "multipart/mixed",
        [
            ("multipart/related", [("multipart/alternative", ["text/plain", "text/html"]), "image/png"]),
            "application/pdf",
        ],
    )


def test_version_1_tree() -> None:
    msg = _compose(text="t", html="<p>h</p>", inlines=[PNG], attachments=[PDF], version=1)
    assert _tree(msg) == (
        "multipart/mixed",
        [
            ("multipart/alternative", ["text/plain", ("multipart/related", ["text/html", "image/png"])]),
            "application/pdf",
        ],
    )


def test_single_levels_collapse() -> None:
    assert _tree(_compose(text="only text")) == "text/plain"
    assert _tree(_compose(text="t", html="<b>h</b>")) == (
        "multipart/alternative",
        ["text/plain", "text/html"],
    )


def test_attachments_and_inlines_round_trip() -> None:
    msg = _compose(text="t", html='<img src="cid:logo">', inlines=[PNG], attachments=[PDF])
    found = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
    assert found["report.pdf"].get_content() == PDF.content
    assert found["report.pdf"].get_content_disposition() == "attachment"
    assert found["logo.png"].get_content() == PNG.content
    assert found["logo.png"]["Content-ID"] == "<logo>"
    assert found["logo.png"].get_content_disposition() == "inline"


def test_headers_and_encoding() -> None:
    msg = _compose(
        sender=parse_address("Jürgen Müller <j@example.com>"),
        subject="Grüße aus Köln — ünïcödé " * 3,
        to=[parse_address("A <a@example.com>"), parse_address("b@example.com")],
        cc=[parse_address("c@example.com")],
        reply_to=[parse_address("r@example.com")],
        text="Grüße\nline two",
        headers=[("X-Tag", "one"), ("X-Ünicode", "x")][:1],
    )
    assert msg["Subject"] == "Grüße aus Köln — ünïcödé " * 3
    assert msg["From"].addresses[0].display_name == "Jürgen Müller"
    assert msg["To"] == "A <a@example.com>, b@example.com"
    assert msg["Cc"] == "c@example.com" and msg["Reply-To"] == "r@example.com"
    assert msg["Message-ID"] == "<id@example.com>" and msg["Date"] is not None
    assert msg["X-Tag"] == "one" and msg["Bcc"] is None
    assert msg.get_content().replace("\r\n", "\n") == "Grüße\nline two"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"


def test_custom_header_replaces_generated_one() -> None:
    msg = _compose(
        text="t",
        headers=[("Reply-To", "x@example.com"), ("Message-ID", "<mine@example.com>")],
        reply_to=[parse_address("r@example.com")],
    )
    assert msg.get_all("Reply-To") == ["x@example.com"]
    assert msg.get_all("Message-ID") == ["<mine@example.com>"]


def test_long_ascii_lines_are_quoted_printable() -> None:
    msg = _compose(text="x" * 2000)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content().strip() == "x" * 2000


def test_fast_header_path_matches_compat32_folding() -> None:
    from email.generator import BytesGenerator
    from email.policy import compat32
    from io import BytesIO

    from postroom.mail.compose import WIRE

    values = [
        "plain",
        "two  spaces",
        "tab\there",
        "x" * 60,
        "y" * 200,
        "Grüße",
        "a, b <c@d>",
        " lead",
        "trail ",
        "=?utf-8?q?x?=",
        "semi; colon",
        "",
        "long words " * 12,
    ]
    for value in values:
        outputs = []
        for policy in (WIRE, compat32.clone(linesep="\r\n")):
            msg = _compose(text="t")
            msg_c = email.message_from_bytes(msg.as_bytes(), policy=policy)
            msg_c["X-Test"] = value
            buffer = BytesIO()
            BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(msg_c)
            outputs.append(buffer.getvalue())
        assert outputs[0] == outputs[1], value
