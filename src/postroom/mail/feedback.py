"""Reading what comes back to the return path: delivery status notifications and abuse reports.

`parse_feedback` takes the raw bytes of a returned message and says what it is: a DSN (RFC 3464,
a multipart/report holding message/delivery-status), an ARF complaint (RFC 5965, a report holding
message/feedback-report), or unknown. It is lenient on purpose, since real reports from Postfix,
Exim, Gmail and Exchange vary: the report-type parameter is not required, the machine-readable part
is found wherever it sits (outside any returned message), and a bounce that is no report at all still
gets a best-effort status read from its text ("550 5.1.1 ..."). It never raises.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Literal

Kind = Literal["dsn", "arf", "unknown"]
Bounce = Literal["hard", "soft", "none"]
Header = tuple[str, str]

DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})  # RFC 3464, 6533
ARF_TYPES = frozenset({"message/feedback-report"})  # RFC 5965 §3
RETURNED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})  # RFC 3462 §2, RFC 6532
RETURNED_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})  # RFC 6533 §6.3
HARD_ACTIONS = frozenset({"failed"})  # RFC 3464 §2.3.3
SOFT_ACTIONS = frozenset({"delayed"})
MAX_PARTS = 1000  # parts looked at in one report: a bound on work for hostile input
MAX_TEXT = 200_000  # characters of a non-report bounce searched for a status
# RFC 3463 status codes, optionally after the RFC 5321 reply code that carried them.
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_STATUS = re.compile(r"\b([45]\d\d)[ -]([45]\.\d{1,3}\.\d{1,3})\b")
_REPLY = re.compile(r"(?:^|said:)[ \t]*([45][0-5]\d)[ -]\S", re.MULTILINE | re.IGNORECASE)
_ORIGINAL_ID = re.compile(r"^message-id:[ \t]*(<[^>\r\n]{1,900}>)", re.IGNORECASE | re.MULTILINE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a DSN (RFC 3464 §2.3), values without their type prefix."""

    final_recipient: str = ""  # "user@example.org" from "rfc822; user@example.org"
    original_recipient: str = ""
    action: str = ""  # failed | delayed | delivered | relayed | expanded, lower case
    status: str = ""  # "5.1.1", or "" when absent and not in the diagnostic either
    diagnostic_code: str = ""  # "550 5.1.1 <user@example.org>: Recipient address rejected", unfolded
    remote_mta: str = ""  # "mx.example.org"

    @property
    def bounce(self) -> Bounce:
        """hard: the address failed for good; soft: delayed or a transient failure; none: nothing wrong."""
        if self.action in HARD_ACTIONS:
            return "hard"
        if self.action in SOFT_ACTIONS:
            return "soft"
        if self.action:
            return "none"  # delivered, relayed, expanded
        return bounce_of_status(self.status)


@dataclass(frozen=True)
class ArfReport:
    """The machine-readable fields of an abuse report (RFC 5965 §3.1, §3.2)."""

    feedback_type: str = ""  # abuse | fraud | virus | not-spam | auth-failure | other, lower case
    user_agent: str = ""
    version: str = ""
    original_rcpt_to: str = ""  # the first, when several are given
    original_mail_from: str = ""
    arrival_date: str = ""
    reporting_mta: str = ""
    source_ip: str = ""
    reported_domain: str = ""


@dataclass(frozen=True)
class Feedback:
    """What a returned message says; fields that do not apply to its kind stay empty."""

    kind: Kind
    recipients: tuple[DsnRecipient, ...] = ()  # dsn
    reporting_mta: str = ""  # dsn: the per-message Reporting-MTA
    report: ArfReport | None = None  # arf
    original_headers: tuple[Header, ...] = ()  # the returned message's headers, when included
    guessed_status: str = ""  # unknown: a status code read from the text, best effort
    problems: tuple[str, ...] = field(default=(), compare=False)  # why parts could not be read

    def original_header(self, name: str) -> str:
        """The first value of a header of the returned message, or ""."""
        wanted = name.lower()
        return next((value for key, value in self.original_headers if key.lower() == wanted), "")

    @property
    def original_message_id(self) -> str:
        return self.original_header("Message-ID")

    @property
    def guessed_bounce(self) -> Bounce:
        return bounce_of_status(self.guessed_status)

    def summary(self) -> str:
        """One line saying what was understood, for logs and the stored feedback row."""
        if self.kind == "dsn":
            parts = [
                f"{r.final_recipient or '?'} {r.action or '?'} {r.status or '?'}" for r in self.recipients
            ]
            return "dsn: " + ("; ".join(parts) or "no recipients")
        if self.kind == "arf" and self.report is not None:
            return f"arf: {self.report.feedback_type or '?'} for {self.report.original_rcpt_to or '?'}"
        return f"unknown: status {self.guessed_status}" if self.guessed_status else "unknown"


def bounce_of_status(status: str) -> Bounce:
    """RFC 3463 §3.1: class 5 is a permanent failure, class 4 a persistent transient one."""
    if status.startswith("5."):
        return "hard"
    if status.startswith("4."):
        return "soft"
    return "none"


def parse_feedback(raw: bytes) -> Feedback:
    """What a returned message is and says; never raises, whatever the bytes."""
    try:
        return _parse(raw)
    except Exception as exc:  # a parser bug on hostile input must not stop the bounce processor
        return Feedback("unknown", problems=(f"unreadable: {type(exc).__name__}: {exc}",))


def _parse(raw: bytes) -> Feedback:
    message = message_from_bytes(raw, policy=compat32)
    parts = list(_parts(message))
    original = _original_headers(parts)
    for part in parts:
        if part.get_content_type() in ARF_TYPES:
            return Feedback("arf", report=_arf(_blocks(part)), original_headers=original)
    for part in parts:
        if part.get_content_type() in DSN_TYPES:
            return _dsn(_blocks(part), original)
    return _unknown(parts, original)


def _parts(message: Message) -> Iterator[Message]:
    """Every part of the report, not descending into a returned message (its parts are not ours)."""
    stack = [message]
    seen = 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        payload = part.get_payload()
        if part.is_multipart() and part.get_content_maintype() == "multipart" and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _text(value: object) -> str:
    """Text with the raw bytes the parser kept (as surrogates) read as UTF-8, else replacement chars."""
    text = str(value)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unfold(value: object) -> str:
    return _WHITESPACE.sub(" ", _text(value)).strip()


def _items(message: Message) -> list[Header]:
    return [(_text(name), _unfold(value)) for name, value in message.raw_items()]


def _original_headers(parts: list[Message]) -> tuple[Header, ...]:
    """The headers of the returned message: a text/rfc822-headers part or a whole message/rfc822."""
    for part in parts:
        kind = part.get_content_type()
        if kind in RETURNED_HEADER_TYPES:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                return tuple(_items(BytesHeaderParser(policy=compat32).parsebytes(data.lstrip())))
        if kind in RETURNED_MESSAGE_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return tuple(_items(payload[0]))
    return ()


# --- the machine-readable part: blocks of "Name: value" fields -----------------------------------


def _blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status or message/feedback-report part.

    Field names are lower-cased; of a repeated field the first value is kept. The email package
    splits message/delivery-status into one sub-message per block but other message/* types into
    one message with a text body, and a sender may even base64 the part: so the text is put back
    together and split here, the same way for all of them.
    """
    return [block for block in map(_fields, _part_text(part).split("\n\n")) if block]


def _part_text(part: Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list):
        text = "\n\n".join(_message_text(p) for p in payload if isinstance(p, Message))
        text = _transfer_decoded(text, str(part.get("Content-Transfer-Encoding", "")).strip().lower())
    else:
        text = _body(part)
    return re.sub(r"\n[ \t]*(?=\n)", "\n", text.replace("\r\n", "\n"))


def _message_text(message: Message) -> str:
    lines = [f"{_text(name)}: {_text(value)}" for name, value in message.raw_items()]
    body = _body(message)
    if body.strip():
        lines += ["", body] if lines else [body]
    return "\n".join(lines)


def _body(part: Message) -> str:
    """A leaf part's text, transfer-decoded, its bytes read as UTF-8 (or replacement chars)."""
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _transfer_decoded(text: str, encoding: str) -> str:
    try:
        if encoding == "base64":
            data = base64.b64decode("".join(text.split()))
        elif encoding == "quoted-printable":
            data = quopri.decodestring(text.encode("utf-8", "surrogateescape"))
        else:
            return text
    except (binascii.Error, ValueError):
        return text
    return data.decode("utf-8", "replace")


def _fields(block: str) -> dict[str, str]:
    """One block's fields; lines that are no field (and their continuations) are skipped."""
    pairs: list[list[str]] = []
    wanted = False
    for line in block.split("\n"):
        if line[:1] in (" ", "\t"):
            if wanted:
                pairs[-1][1] += " " + line
            continue
        name, colon, value = line.partition(":")
        wanted = bool(colon and name.strip() and " " not in name.strip())
        if wanted:
            pairs.append([name.strip().lower(), value])
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, _WHITESPACE.sub(" ", value).strip())
    return fields


def _typed(value: str) -> str:
    """The value of a typed field ("rfc822; user@example.org", "dns; mx.example.org"), type removed."""
    kind, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon and " " not in kind.strip() else value.strip()


def _status(value: str) -> str:
    match = _STATUS.search(value)
    return ".".join(match.groups()) if match else ""


# --- the three kinds ------------------------------------------------------------------------------


def _dsn(blocks: list[dict[str, str]], original: tuple[Header, ...]) -> Feedback:
    per_message = blocks[0] if blocks and "final-recipient" not in blocks[0] else {}
    named = ("final-recipient", "original-recipient", "action")
    recipients = tuple(_recipient(block) for block in blocks if any(name in block for name in named))
    return Feedback(
        "dsn",
        recipients=recipients,
        reporting_mta=_typed(per_message.get("reporting-mta", "")),
        original_headers=original,
        problems=() if recipients else ("the delivery-status part names no recipient",),
    )


def _recipient(block: dict[str, str]) -> DsnRecipient:
    diagnostic = _typed(block.get("diagnostic-code", ""))
    return DsnRecipient(
        final_recipient=_address(block.get("final-recipient", "")),
        original_recipient=_address(block.get("original-recipient", "")),
        action=block.get("action", "").split(" ", 1)[0].lower(),
        status=_status(block.get("status", "")) or _status(diagnostic),
        diagnostic_code=diagnostic,
        remote_mta=_typed(block.get("remote-mta", "")),
    )


def _address(value: str) -> str:
    return _typed(value).strip("<>").strip()


def _arf(blocks: list[dict[str, str]]) -> ArfReport:
    fields = blocks[0] if blocks else {}
    return ArfReport(
        feedback_type=fields.get("feedback-type", "").lower(),
        user_agent=fields.get("user-agent", ""),
        version=fields.get("version", ""),
        original_rcpt_to=fields.get("original-rcpt-to", "").strip("<>").strip(),
        original_mail_from=fields.get("original-mail-from", "").strip("<>").strip(),
        arrival_date=fields.get("arrival-date", "") or fields.get("received-date", ""),
        reporting_mta=_typed(fields.get("reporting-mta", "")),
        source_ip=fields.get("source-ip", ""),
        reported_domain=fields.get("reported-domain", ""),
    )


def _unknown(parts: list[Message], original: tuple[Header, ...]) -> Feedback:
    """Not a report: guess the status from the text, and the returned message's id if it is quoted."""
    text = "\n".join(_body(part) for part in parts if part.get_content_maintype() == "text")[:MAX_TEXT]
    if not original:
        found = _ORIGINAL_ID.search(text)
        original = (("Message-ID", found.group(1)),) if found else ()
    return Feedback("unknown", original_headers=original, guessed_status=_guess_status(text))


def _guess_status(text: str) -> str:
    """The enhanced code after a reply code ("550 5.1.1" → 5.1.1), else the class of a reply code that
    starts a line or follows "said:" ("550 No such user" → 5.0.0); "" when neither is found."""
    match = _REPLY_STATUS.search(text)
    if match:
        return match.group(2)
    reply = _REPLY.search(text)
    return f"{reply.group(1)[0]}.0.0" if reply else ""
