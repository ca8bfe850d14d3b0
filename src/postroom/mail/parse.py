"""Reading messages: the headers of a submitted MIME message, and a description of a stored one."""

from __future__ import annotations

import binascii
import copy
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.errors import ObsoleteHeaderDefect
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import compat32, default
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, TypeVar

from postroom.mail.addresses import Address, AddressError, decode_name, normalize_mailbox, unquote_name
from postroom.mail.text import describe_char, find_control, from_surrogates, has_8bit, without_controls

T = TypeVar("T")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BCC_LINE = re.compile(rb"^(?:resent-)?bcc[ \t]*:", re.IGNORECASE)
_FEED_HEADER = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")  # email.feedparser.headerRE
# A plain address list item, which email.utils.getaddresses reads as (phrase words joined by one space,
# the address): `a@b`, `<a@b>`, `Some Name <a@b>` with dot-atom addresses and atom words
# (tests/mail checks the equivalence).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDR = rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_PLAIN_ITEM = re.compile(
    rf"[ \t]*(?:(?P<name>{_ATEXT}(?:[ \t]+{_ATEXT})*)[ \t]*<(?P<named>{_PLAIN_ADDR})>"
    rf"|<(?P<angle>{_PLAIN_ADDR})>|(?P<bare>{_PLAIN_ADDR}))[ \t]*"
)
_PLAIN_TEXT = re.compile(r"[\t\x20-\x7e]*")  # printable ASCII: an unstructured header decodes to itself
_UNFOLD = re.compile(r"\r?\n")
# RFC 5322 §3.6.4 msg-id, without the obsolete forms: "<" id-left "@" id-right ">"
MAX_DEPTH = 32  # multipart nesting followed when listing attachments
MSG_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")


class InvalidMessage(ValueError):
    """A submitted message whose headers cannot be used; the text says which header and why."""


@dataclass(frozen=True)
class Submitted:
    """The addressing of a submitted message, read from its headers."""

    sender: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    reply_to: str
    subject: str
    message_id: str
    has_date: bool


def split_header(raw: bytes) -> tuple[bytes, bytes]:
    """(header section including its line ending, the rest from the blank line on).

    The blank line is the first match of _HEADER_END (\\r?\\n\\r?\\n), found with two bytes.find
    (a regular expression that starts with an optional character is scanned position by position).
    """
    crlf = raw.find(b"\n\r\n")
    lf = raw.find(b"\n\n", 0, len(raw) if crlf == -1 else crlf + 1)
    at = crlf if lf == -1 else lf  # the first newline of the first blank line
    if at == -1:
        return raw, b""
    start = at - 1 if at and raw[at - 1] == 13 else at  # 13: a CR just before it belongs to it
    cut = start + (2 if raw[start : start + 2] == b"\r\n" else 1)
    return raw[:cut], raw[cut:]


def strip_bcc(raw: bytes) -> bytes:
    """Remove every Bcc and Resent-Bcc header (with its folded continuation lines); keep all other bytes."""
    head, rest = split_header(raw)
    if b"bcc" not in head.lower():
        return raw  # nothing to remove (the common case): the same bytes, not a copy
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and dropping:
            continue
        dropping = bool(_BCC_LINE.match(line))
        if not dropping:
            kept.append(line)
    return b"".join(kept) + rest


def _mailbox(name: str, addr: str, header: str, strict: bool) -> Address | None:
    try:
        mailbox = normalize_mailbox(addr)
        return Address(mailbox, decode_name(name) if strict else without_controls(unquote_name(name)))
    except AddressError as exc:
        if strict:
            reason = f" ({exc.reason})" if exc.reason else ""
            raise InvalidMessage(f"The {header} header has an invalid address: '{addr}'{reason}") from None
        return None


def _strict_pairs(header: str, values: list[str]) -> list[tuple[str, str]]:
    """(name, addr) pairs read with the full RFC 5322 parser: anything it cannot make sense of is refused,
    so no intended recipient is silently dropped."""
    pairs = []
    for value in values:
        if has_8bit(value):
            raise InvalidMessage(
                f"The {header} header holds 8-bit bytes; encode display names as RFC 2047 words"
                " (non-ASCII addresses need SMTPUTF8, which /email/mime does not offer)"
            )
        try:
            parsed: Any = default.header_fetch_parse(header, value)
            found = [(a.display_name, a.addr_spec) for a in parsed.addresses]
        except Exception:  # the standard parser's failures are not all ValueErrors
            raise InvalidMessage(f"The {header} header cannot be parsed: '{value.strip()}'") from None
        defects = [d for d in parsed.defects if not isinstance(d, ObsoleteHeaderDefect)]
        if defects:
            raise InvalidMessage(f"The {header} header is malformed ({defects[0]}): '{value.strip()}'")
        pairs += _with_joined_words(value, found)
    return pairs


def _with_joined_words(value: str, found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs with each display name as RFC 2047 §6.2 reads it: the standard parser keeps the
    whitespace between adjacent encoded words of a phrase (a name split over several words, as
    long or folded names are, read "Jo hn"); decode_header, which _mailbox applies to the raw name
    getaddresses gives, drops it. Kept as parsed when the two readings disagree on the addresses."""
    if "=?" not in value:
        return found
    try:
        raw = getaddresses([_UNFOLD.sub("", value)])
    except Exception:
        return found
    if [addr for _, addr in raw] != [addr for _, addr in found]:
        return found
    return raw


def _lenient_pairs(values: list[str]) -> list[tuple[str, str]]:
    unfolded = [_UNFOLD.sub("", from_surrogates(v)) for v in values]
    plain = _plain_pairs(unfolded)
    if plain is not None:
        return plain
    try:
        return getaddresses(unfolded)
    except Exception:
        return []


def _plain_pairs(values: list[str]) -> list[tuple[str, str]] | None:
    """getaddresses(values) when every item is a plain address (the usual header); None otherwise."""
    pairs = []
    for value in values:
        for item in value.split(","):
            match = _PLAIN_ITEM.fullmatch(item)
            if match is None:
                return None
            name = match["name"]
            if name is None:
                pairs.append(("", match["angle"] or match["bare"]))
            else:
                pairs.append((" ".join(name.split()), match["named"]))
    return pairs


def _addresses(header: str, values: list[str], strict: bool) -> list[Address]:
    pairs = _strict_pairs(header, values) if strict else _lenient_pairs(values)
    found = (_mailbox(name, addr, header, strict) for name, addr in pairs if addr)
    return [a for a in found if a is not None]


def _checked_text(header: str, value: str, strict: bool) -> str:
    bad = find_control(value, allow_tab=True)
    if bad is None:
        return value
    if strict:
        raise InvalidMessage(f"The {header} header contains the control character {describe_char(bad)}")
    return without_controls(value)


def _unstructured(header: str, raw: str | None, strict: bool) -> str:
    """A text header decoded (RFC 2047), falling back to its raw text; control characters refused."""
    if raw is None:
        return ""
    if "=?" not in raw and _PLAIN_TEXT.fullmatch(raw):
        return raw  # what the parse below gives for printable ASCII without encoded words
    text = from_surrogates(raw)
    try:
        value = str(default.header_fetch_parse(header, text))
    except Exception:
        value = _UNFOLD.sub("", text)
    return _checked_text(header, value, strict)


def raw_headers(head: bytes) -> list[tuple[str, str]]:
    """BytesHeaderParser(policy=compat32).parsebytes(head).raw_items(), without building a Message:
    the same lines taken as headers, the same (name, value) pairs, the same lines skipped."""
    lines = [line.decode("ascii", "surrogateescape") for line in head.splitlines(keepends=True)]
    for count, line in enumerate(lines):
        if not _FEED_HEADER.match(line):  # the first line that is not a header starts the body
            del lines[count:]
            break
    items: list[tuple[str, str]] = []
    value: list[str] = []  # the lines of the header being read
    for number, line in enumerate(lines):
        if line[0] in " \t":
            if value:
                value.append(line)
            continue  # a continuation with no header before it is dropped
        if value:
            items.append(_source_parse(value))
            value = []
        if line.startswith("From "):  # a Unix From line (or a misplaced one): not a header
            if number == len(lines) - 1 and number:
                break
            continue
        if line[0] != ":":  # ":" first: a header without a name, dropped
            value = [line]
    if value:
        items.append(_source_parse(value))
    return items


def _source_parse(lines: list[str]) -> tuple[str, str]:
    """compat32's header_source_parse."""
    name, value = lines[0].split(":", 1)
    value = value.lstrip(" \t") + "".join(lines[1:])
    return name, value.rstrip("\r\n")


class _Headers:
    """The raw values of a header section by lower-case name, in order."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            self._values.setdefault(name.lower(), []).append(value)

    def first(self, name: str) -> str | None:
        """The raw text of the first `name` header."""
        found = self._values.get(name.lower())
        return found[0] if found else None

    def all(self, name: str) -> list[str]:
        return self._values.get(name.lower(), [])


def _check_strict(msg: _Headers) -> None:
    message_id = msg.first("Message-ID")
    if message_id is not None and not MSG_ID.fullmatch(_UNFOLD.sub("", message_id).strip()):
        raise InvalidMessage(f"The Message-ID header is not a valid msg-id: '{message_id.strip()}'")
    date = msg.first("Date")
    if date is not None:
        try:
            parsedate_to_datetime(_UNFOLD.sub("", date))
        except Exception:
            raise InvalidMessage(f"The Date header is not an RFC 5322 date: '{date.strip()}'") from None


def read_submitted(raw: bytes, strict: bool = True) -> Submitted:
    """Parse only the header section; never raises anything but InvalidMessage.

    strict (the API's /email/mime, where headers are the recipients): raise InvalidMessage for an
    address header the RFC 5322 parser finds malformed, an address that is not a mailbox, 8-bit
    bytes in an address header, a control character in a text header, or a malformed Message-ID or
    Date. Otherwise (SMTP, where the envelope is what counts) skip what cannot be read and blank
    control characters out of the stored text.
    """
    try:
        return _read_submitted(raw, strict)
    except InvalidMessage:
        raise
    except Exception:  # a parser failure nobody foresaw: still a clear answer, never a 500
        if strict:
            raise InvalidMessage("The message headers cannot be parsed") from None
        return Submitted(None, [], [], [], "", "", "", has_date=False)


def _read_submitted(raw: bytes, strict: bool) -> Submitted:
    head, _ = split_header(raw)
    msg = _Headers(raw_headers(head))  # raw strings; nothing parsed yet
    if strict:
        _check_strict(msg)
    senders = _addresses("From", msg.all("From"), strict)
    reply_to = msg.first("Reply-To")
    if strict and reply_to is not None:
        _addresses("Reply-To", [reply_to], strict)
    return Submitted(
        sender=senders[0] if senders else None,
        to=_addresses("To", msg.all("To"), strict),
        cc=_addresses("Cc", msg.all("Cc"), strict),
        bcc=_addresses("Bcc", msg.all("Bcc"), strict),
        reply_to=_unstructured("Reply-To", reply_to, strict),
        subject=_unstructured("Subject", msg.first("Subject"), strict),
        message_id=without_controls(from_surrogates(msg.first("Message-ID") or "")).strip(),
        has_date=msg.first("Date") is not None,
    )


def _safe(fn: Callable[[], T], fallback: Callable[[], T], last: T) -> T:
    """fn(), else fallback(), else `last`: reading a stored message never raises."""
    try:
        return fn()
    except Exception:
        try:
            return fallback()
        except Exception:
            return last


def _lenient(part: Message) -> Message:
    """The same part read with compat32, which takes header values as raw text instead of parsing them."""
    view = copy.copy(part)
    view.policy = compat32
    return view


def header_value(name: str, raw: str) -> str:
    """A stored header's value decoded for display; its raw (unfolded) text when it cannot be parsed."""
    text = from_surrogates(raw)
    try:
        return str(default.header_fetch_parse(name, text))
    except Exception:
        return _UNFOLD.sub("", text)


def header_items(head: bytes) -> list[tuple[str, str]]:
    """Every (name, value) of a header section, in order; never raises."""
    msg = BytesHeaderParser(policy=compat32).parsebytes(split_header(head)[0])
    return [(name, header_value(name, raw)) for name, raw in msg.raw_items()]


def attachment_meta(raw: bytes) -> list[dict[str, Any]]:
    """[{filename, mimetype, size}] of the attachments and inline files of a message; never raises.

    Only header sections are parsed; bodies are split at their boundaries with bytes.find and their
    decoded sizes computed without decoding base64, so a large attachment costs little.
    """
    head = split_header(raw)[0].lower()
    if b"multipart/" not in head and b"content-disposition" not in head and b"name=" not in head:
        return []  # a single part with no file name: the common plain message, without parsing
    try:
        return _files_of(raw, 0)
    except Exception:
        return []


def _files_of(entity: bytes, depth: int) -> list[dict[str, Any]]:
    head, body = split_header(entity)
    part = BytesHeaderParser(policy=compat32).parsebytes(head)
    boundary = (
        _safe(part.get_boundary, lambda: None, None) if part.get_content_maintype() == "multipart" else None
    )
    if boundary and depth < MAX_DEPTH:
        return [
            meta
            for child in _children(body, boundary.encode("ascii", "replace"))
            for meta in _files_of(child, depth + 1)
        ]
    if not _is_file(part):
        return []
    return [{"filename": _filename(part), "mimetype": _ctype(part), "size": _decoded_size(part, body)}]


def _children(body: bytes, boundary: bytes) -> list[bytes]:
    """The body parts between the delimiter lines of a multipart body (RFC 2046 §5.1.1)."""
    delimiter = b"--" + boundary
    starts: list[tuple[int, int]] = []  # (where the delimiter line starts, where its part begins)
    at = 0
    while (found := body.find(delimiter, at)) != -1:
        at = found + len(delimiter)
        if found == 0 or body[found - 1 : found] == b"\n":
            line_end = body.find(b"\n", at)
            starts.append((found, len(body) if line_end == -1 else line_end + 1))
            if body[at : at + 2] == b"--":
                break
    return [
        body[begin:end].removesuffix(b"\n").removesuffix(b"\r")
        for (_, begin), (end, _) in itertools.pairwise(starts)
    ]


def _decoded_size(part: Message, body: bytes) -> int:
    body = body[2:] if body.startswith(b"\r\n") else body[1:]  # split_header leaves the blank line
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":  # 3 bytes per 4 characters, less the padding; counted, not decoded
        chars = len(body) - sum(body.count(space) for space in (b"\r", b"\n", b" ", b"\t"))
        tail = body[-100:].rstrip()
        return max(0, chars * 3 // 4 - (len(tail) - len(tail.rstrip(b"="))))
    if encoding == "quoted-printable":
        return len(binascii.a2b_qp(body))
    return len(body)


def _payload_bytes(part: Message) -> bytes:
    def decoded(p: Message) -> bytes:
        payload = p.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""

    return _safe(lambda: decoded(part), lambda: decoded(_lenient(part)), b"")


def _raw_header(part: Message, name: str) -> str:
    raw = next((v for k, v in part.raw_items() if k.lower() == name), "")
    return _UNFOLD.sub("", from_surrogates(str(raw)))


def _ctype(part: Message) -> str:
    return _safe(part.get_content_type, lambda: _lenient(part).get_content_type(), "text/plain")


def _disposition(part: Message) -> str:
    found = _safe(part.get_content_disposition, lambda: _lenient(part).get_content_disposition(), None)
    return found or ""


def _filename(part: Message) -> str:
    name = _safe(part.get_filename, lambda: _lenient(part).get_filename(), None) or ""
    if "=?" in name:  # compat32 leaves RFC 2047 words (which some clients put in file names) as they are
        name = header_value("Subject", name)
    return without_controls(from_surrogates(name)).replace("\t", " ")


def _is_file(part: Message) -> bool:
    disposition = _disposition(part)
    return bool(
        _filename(part)
        or disposition == "attachment"
        or (disposition == "inline" and not _ctype(part).startswith("text/"))
    )


def _part_text(part: Message) -> str:
    charset = _safe(part.get_content_charset, lambda: _lenient(part).get_content_charset(), None)
    try:
        return _payload_bytes(part).decode(charset or "utf-8", errors="replace")
    except (LookupError, ValueError):
        return _payload_bytes(part).decode("utf-8", errors="replace")


def _parse(raw: bytes) -> Message:
    """The whole message; compat32 when the default policy's header parsing fails on the structure."""
    try:
        msg = message_from_bytes(raw, policy=default)
        assert isinstance(msg, EmailMessage)
        return msg
    except Exception:
        return message_from_bytes(raw, policy=compat32)


def describe(raw: bytes) -> dict[str, Any]:
    """Headers, MIME parts, the first text and HTML bodies, and attachments of a stored message.

    Never raises: a header the parser cannot read is shown as its raw text.
    """
    msg = _parse(raw)
    headers = [{"name": k, "value": header_value(k, str(v))} for k, v in msg.raw_items()]
    parts: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    text = html = None
    for index, part in enumerate(msg.walk()):
        ctype = _ctype(part)
        entry: dict[str, Any] = {"index": index, "content_type": ctype}
        if not part.is_multipart():
            entry.update(
                size=len(_payload_bytes(part)),
                disposition=_disposition(part),
                filename=_filename(part),
                content_id=_raw_header(part, "content-id").strip().strip("<>"),
            )
            if _is_file(part):
                attachments.append(
                    {
                        k: entry[k]
                        for k in ("index", "filename", "content_type", "size", "disposition", "content_id")
                    }
                )
            elif ctype == "text/plain" and text is None:
                text = _part_text(part)
            elif ctype == "text/html" and html is None:
                html = _part_text(part)
        parts.append(entry)
    return {
        "headers": headers,
        "parts": parts,
        "attachments": attachments,
        "text": text or "",
        "html": html or "",
    }


def part_content(raw: bytes, index: int) -> tuple[str, str, bytes] | None:
    """(content type, filename, decoded bytes) of the part at the walk index, or None."""
    for i, part in enumerate(_parse(raw).walk()):
        if i == index and not part.is_multipart():
            return _ctype(part), _filename(part), _payload_bytes(part)
    return None


__all__ = [
    "InvalidMessage",
    "Submitted",
    "attachment_meta",
    "describe",
    "header_items",
    "header_value",
    "part_content",
    "read_submitted",
    "strip_bcc",
]
