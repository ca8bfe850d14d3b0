"""The MIME trees of /email/send, re-read with Python's own parser."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default

import pytest

from postroom.mail.addresses import parse_address
from postroom.mail.compose import Composition, Part, compose, parse_mimetype


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


def _text_part_wire(body: str) -> bytes:
    from email.generator import BytesGenerator
    from io import BytesIO

    from postroom.mail.compose import WIRE, text_part

    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=WIRE).flatten(text_part(body, "plain"))
    return buffer.getvalue()


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x7f", "\x1b"])
def test_control_characters_in_text_are_quoted_printable(char: str) -> None:
    wire = _text_part_wire(f"before{char}after\nnext line\n")
    assert b"Content-Transfer-Encoding: quoted-printable" in wire
    assert char.encode() not in wire.partition(b"\r\n\r\n")[2]
    msg = _compose(text=f"before{char}after\nnext line\n")
    assert msg.get_content().replace("\r\n", "\n") == f"before{char}after\nnext line\n"


def test_line_length_counts_only_real_line_breaks() -> None:
    # \x0b splits for str.splitlines() but not on the wire: 600 + 600 characters are one 1201-character line.
    assert b"quoted-printable" in _text_part_wire("a" * 600 + "\x0b" + "b" * 600)
    seven_bit = _text_part_wire(("a" * 900 + "\r\n") * 3 + "tab\there\n")
    assert b"Content-Transfer-Encoding: 7bit" in seven_bit


def test_mimetypes_are_parsed_and_opaque_types_are_octet_stream() -> None:
    assert parse_mimetype("Image/PNG") == ("image/png", ())
    assert parse_mimetype('text/plain; charset=UTF-8; name="a \\"b\\".txt"') == (
        "text/plain",
        (("charset", "UTF-8"), ("name", 'a "b".txt')),
    )
    for bad in ("image", "image/", "a/b c", "a/b; c", "text/plain\x0b", "x/y\r\nBcc: v", "a/b; c=ü"):
        assert parse_mimetype(bad) is None, bad
    assert Part("m.eml", b"x").content_type == "application/octet-stream"
    assert Part("m.bin", b"x", "message/rfc822").content_type == "application/octet-stream"
    assert Part("m.bin", b"x", "multipart/mixed").content_type == "application/octet-stream"
    assert Part("m.pdf", b"x").content_type == "application/pdf"
    msg = _compose(text="t", attachments=[Part("f.eml", b"From: x\r\n\r\nbody", "message/rfc822")])
    part = next(p for p in msg.walk() if p.get_filename() == "f.eml")
    assert part.get_content_type() == "application/octet-stream"
    assert part.get_payload(decode=True) == b"From: x\r\n\r\nbody"
