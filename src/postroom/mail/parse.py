"""Reading messages: the headers of a submitted MIME message, and a description of a stored one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses
from typing import Any

from postroom.mail.addresses import Address, is_valid_mailbox

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BCC_LINE = re.compile(rb"^bcc[ \t]*:", re.IGNORECASE)


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
    """(header section including its line ending, the rest from the blank line on)."""
    match = _HEADER_END.search(raw)
    if match is None:
        return raw, b""
    cut = match.start() + (2 if raw[match.start() : match.start() + 2] == b"\r\n" else 1)
    return raw[:cut], raw[cut:]


def strip_bcc(raw: bytes) -> bytes:
    """Remove every Bcc header (with its folded continuation lines) and keep all other bytes as they are."""
    head, rest = split_header(raw)
    kept: list[bytes] = []
    dropping = False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and dropping:
            continue
        dropping = bool(_BCC_LINE.match(line))
        if not dropping:
            kept.append(line)
    return b"".join(kept) + rest


def _addresses(values: list[str], strict: bool) -> list[Address]:
    out = []
    for name, addr in getaddresses(values):
        if not addr:
            continue
        if not is_valid_mailbox(addr):
            if strict:
                raise ValueError(addr)
            continue
        out.append(Address(addr=addr, name=name))
    return out


def read_submitted(raw: bytes, strict: bool = True) -> Submitted:
    """Parse only the header section.

    strict: raise ValueError for an address that is not a mailbox (the API's /email/mime, where
    headers are the recipients); otherwise skip it (SMTP, where the envelope is what counts).
    """
    head, _ = split_header(raw)
    msg = BytesHeaderParser(policy=default).parsebytes(head)

    def field(name: str) -> list[Address]:
        return _addresses([str(v) for v in msg.get_all(name, [])], strict)

    senders = field("From")
    return Submitted(
        sender=senders[0] if senders else None,
        to=field("To"),
        cc=field("Cc"),
        bcc=field("Bcc"),
        reply_to=str(msg.get("Reply-To", "")),
        subject=str(msg.get("Subject", "")),
        message_id=str(msg.get("Message-ID", "")),
        has_date="Date" in msg,
    )


def _payload_bytes(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _part_text(part: Message) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        return _payload_bytes(part).decode(charset, errors="replace")
    except LookupError:
        return _payload_bytes(part).decode("utf-8", errors="replace")


def describe(raw: bytes) -> dict[str, Any]:
    """Headers, MIME parts, the first text and HTML bodies, and attachments of a stored message."""
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    headers = [{"name": k, "value": str(v)} for k, v in msg.items()]
    parts: list[dict[str, Any]] = []
    attachments: list[dict[str, Any]] = []
    text = html = None
    for index, part in enumerate(msg.walk()):
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        entry: dict[str, Any] = {"index": index, "content_type": ctype}
        if not part.is_multipart():
            content = _payload_bytes(part)
            entry.update(
                size=len(content),
                disposition=disposition or "",
                filename=part.get_filename() or "",
                content_id=(part.get("Content-ID") or "").strip("<>"),
            )
            if (
                part.get_filename()
                or disposition == "attachment"
                or (disposition == "inline" and not ctype.startswith("text/"))
            ):
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
    msg = message_from_bytes(raw, policy=default)
    for i, part in enumerate(msg.walk()):
        if i == index and not part.is_multipart():
            return part.get_content_type(), part.get_filename() or "", _payload_bytes(part)
    return None


__all__ = ["Submitted", "describe", "part_content", "read_submitted", "strip_bcc"]
