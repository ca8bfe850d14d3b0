"""Hypothesis strategies that build MIME messages as bytes, with what a reader should find in them.

Each generated message comes with its expectation: subject, From and To (display name and address),
the first text/plain and text/html bodies that are not files, and every file part's name and bytes,
in the order a depth-first walk meets them. Headers are written the ways real clients write them:
RFC 2047 encoded words (B and Q) split over folded lines, long folded ASCII, quoted display names;
bodies in 7bit, 8bit, quoted-printable and base64; multiparts nested a few levels; file names plain,
quoted with escapes, RFC 2231-encoded or as RFC 2047 words.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

CRLF = "\r\n"
MAX_LINE = 998

# Text without control characters, surrogates or unassigned code points; any script, emoji.
_TEXT_CHARS = st.characters(
    blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\u0085"
)
ASCII_PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
_ATOM = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}.example", _ATOM, _ATOM)


@dataclass
class FileExpect:
    filename: str
    content: bytes


@dataclass
class Expected:
    subject: str
    sender: tuple[str, str]  # (display name, address)
    to: list[tuple[str, str]]
    text: str | None = None
    html: str | None = None
    files: list[FileExpect] = field(default_factory=list)


def _q_word(chunk: str) -> str:
    encoded = "".join(
        chr(b) if (chr(b).isalnum() and b < 128) else "_" if b == 32 else f"={b:02X}"
        for b in chunk.encode("utf-8")
    )
    return f"=?utf-8?q?{encoded}?="


def _b_word(chunk: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(chunk.encode()).decode()}?="


@st.composite
def encoded_words(draw: Any, value: str) -> str:
    """`value` as RFC 2047 encoded words on folded lines (whitespace between words is not text)."""
    chunks: list[str] = []
    rest = value
    while rest:
        size = draw(st.integers(min_value=1, max_value=12))
        chunks.append(rest[:size])
        rest = rest[size:]
    words = [draw(st.sampled_from([_q_word, _b_word]))(c) for c in chunks]
    return (CRLF + " ").join(words)


def _folded_ascii(value: str) -> str:
    """ASCII text folded before spaces so no line passes 78 characters where it can be helped."""
    out: list[str] = []
    line = ""
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > 70:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    out.append(line)
    return (CRLF + " ").join(out)


@st.composite
def subjects(draw: Any) -> tuple[str, str]:
    """(header value as written, decoded subject)."""
    if draw(st.booleans()):
        words = draw(st.lists(st.text(ASCII_PRINTABLE.filter(lambda c: c != " "), min_size=1, max_size=15)))
        subject = " ".join(words)
        if "=?" in subject or not subject:
            subject = "plain"
        return _folded_ascii(subject), subject
    subject = draw(st.text(_TEXT_CHARS, min_size=1, max_size=120))
    return draw(encoded_words(subject)), subject


@st.composite
def mailboxes(draw: Any) -> tuple[str, tuple[str, str]]:
    """(header form, (display name, address))."""
    addr = draw(ADDRESSES)
    kind = draw(st.sampled_from(["bare", "angle", "atoms", "quoted", "encoded"]))
    if kind == "bare":
        return addr, ("", addr)
    if kind == "angle":
        return f"<{addr}>", ("", addr)
    if kind == "atoms":
        name = " ".join(draw(st.lists(_ATOM, min_size=1, max_size=3)))
        return f"{name} <{addr}>", (name, addr)
    if kind == "quoted":
        name = draw(st.text(ASCII_PRINTABLE, min_size=1, max_size=30).map(lambda s: " ".join(s.split())))
        name = name if name and "=?" not in name else "x"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr}>', (name, addr)
    name = draw(
        st.text(_TEXT_CHARS, min_size=1, max_size=30).map(str.strip).filter(bool)
    )  # names are trimmed
    return f"{draw(encoded_words(name))} <{addr}>", (name, addr)


def _lines(text: str) -> list[str]:
    return text.split(CRLF)


@st.composite
def text_bodies(draw: Any) -> tuple[str, str]:
    """(Content-Transfer-Encoding, body text with CRLF line breaks)."""
    cte = draw(st.sampled_from(["7bit", "8bit", "quoted-printable", "base64"]))
    chars = ASCII_PRINTABLE if cte == "7bit" else st.one_of(ASCII_PRINTABLE, _TEXT_CHARS)
    long_line = draw(st.booleans()) and cte in {"quoted-printable", "base64"}
    lines = draw(st.lists(st.text(chars, max_size=2000 if long_line else 80), min_size=1, max_size=6))
    if cte in {"7bit", "8bit"}:
        lines = [line for line in lines if len(line.encode()) <= MAX_LINE] or ["x"]
    return cte, CRLF.join(lines)


def encode_body(cte: str, data: bytes, text: bool) -> str:
    """The body as it goes on the wire, CRLF line ends."""
    if cte == "base64":
        return base64.encodebytes(data).decode("ascii").replace("\n", CRLF)
    if cte == "quoted-printable":
        if not text:
            return binascii.b2a_qp(data, istext=False).decode("ascii").replace("\n", CRLF)
        # each hard line break stays a line break; b2a_qp adds only soft breaks (=\n) inside a line
        return CRLF.join(
            binascii.b2a_qp(line.encode("utf-8")).decode("ascii").replace("\n", CRLF)
            for line in data.decode("utf-8").split(CRLF)
        )
    return data.decode("utf-8")


_FILENAME_CHARS = st.characters(
    blacklist_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\u0085\t"
)


@st.composite
def file_names(draw: Any) -> tuple[str, str]:
    """(Content-Disposition parameter text, the file name it means)."""
    kind = draw(st.sampled_from(["token", "quoted", "rfc2231", "rfc2047"]))
    if kind == "token":
        name = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=20))
        return f"filename={name}", name
    if kind == "quoted":
        name = draw(st.text(ASCII_PRINTABLE, min_size=1, max_size=40))
        if "=?" in name or name != name.strip() or "  " in name:  # words and outer spaces read differently
            name = "quoted name.txt"
        return 'filename="' + name.replace("\\", "\\\\").replace('"', '\\"') + '"', name
    name = draw(st.text(_FILENAME_CHARS, min_size=1, max_size=30).map(str.strip).filter(bool))  # read trimmed
    if kind == "rfc2231":
        encoded = "".join(
            chr(b) if chr(b).isalnum() and b < 128 else f"%{b:02X}" for b in name.encode("utf-8")
        )
        return f"filename*=utf-8''{encoded}", name
    words = " ".join(_b_word(name[i : i + 10]) for i in range(0, len(name), 10))
    return f'filename="{words}"', name


@st.composite
def leaves(draw: Any, expected: Expected) -> str:
    """One non-multipart entity (headers and body, no trailing CRLF); records what it should read as."""
    kind = draw(st.sampled_from(["plain", "html", "file", "file"]))
    if kind in {"plain", "html"}:
        cte, text = draw(text_bodies())
        if kind == "plain" and expected.text is None:
            expected.text = text
        if kind == "html" and expected.html is None:
            expected.html = text
        head = f"Content-Type: text/{kind}; charset=utf-8{CRLF}Content-Transfer-Encoding: {cte}{CRLF}"
        return head + CRLF + encode_body(cte, text.encode("utf-8"), text=True)
    param, name = draw(file_names())
    content = draw(st.binary(max_size=3000))
    cte = draw(st.sampled_from(["base64", "quoted-printable"]))
    disposition = draw(st.sampled_from(["attachment", "inline"]))
    expected.files.append(FileExpect(name, content))
    head = (
        f"Content-Type: application/octet-stream{CRLF}Content-Transfer-Encoding: {cte}{CRLF}"
        f"Content-Disposition: {disposition};{CRLF} {param}{CRLF}"
    )
    return head + CRLF + encode_body(cte, content, text=False)


@st.composite
def entities(draw: Any, expected: Expected, depth: int = 0) -> str:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return str(draw(leaves(expected)))
    subtype = draw(st.sampled_from(["mixed", "alternative", "related"]))
    boundary = f"=_b{depth}_" + draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=?", max_size=40))
    children = [draw(entities(expected, depth + 1)) for _ in range(draw(st.integers(1, 3)))]
    body = "".join(f"--{boundary}{CRLF}{child}{CRLF}" for child in children) + f"--{boundary}--{CRLF}"
    preamble = draw(st.sampled_from(["", f"This is a multi-part message.{CRLF}"]))
    return f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}{CRLF}{preamble}{body}'


_HEADER_NAME = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20
)
_RESERVED = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
}


@st.composite
def messages(draw: Any) -> tuple[bytes, Expected, list[tuple[str, str]]]:
    """(message bytes, what it should read as, the extra headers (name, unfolded value) it carries)."""
    subject_header, subject = draw(subjects())
    sender_header, sender = draw(mailboxes())
    to = draw(st.lists(mailboxes(), min_size=1, max_size=3))
    expected = Expected(subject=subject, sender=sender, to=[m for _, m in to])
    extra = [
        (name, value)
        for name, value in draw(
            st.lists(
                st.tuples(_HEADER_NAME, st.text("abcdefghij KLMNOP0123,.;:!-", max_size=200)), max_size=4
            )
        )
        if name.lower() not in _RESERVED and value.strip() == value and "  " not in value
    ]
    lines = [
        f"From: {sender_header}",
        "To: " + ("," + CRLF + " ").join(h for h, _ in to),
        f"Subject: {subject_header}",
        "Date: Fri, 04 Dec 2026 18:00:00 +0000",
        "Message-ID: <generated.1@example.test>",
        *(f"{name}: {_folded_ascii(value)}" for name, value in extra),
        "MIME-Version: 1.0",
    ]
    body = draw(entities(expected))
    return (CRLF.join(lines) + CRLF + body).encode("utf-8"), expected, extra
