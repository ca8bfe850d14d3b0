"""SMTP submission into the send path: what a session hands over at the end of DATA, and the stored
message made from it (the envelope decides the recipients; Bcc headers are removed; Received, and
Message-ID/Date when missing, are added to the stored copy).

A message with `X-Smtp2go-Template-Id` (and `X-Smtp2go-Template-Data`, JSON) is rendered as an
/email/send naming the template: `templated` gives its subject and a new text/HTML body, keeps its
other headers, attachments and inline parts, and removes the two headers.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart

from postroom.features.email import repo, stored
from postroom.features.email.validate import dedupe
from postroom.ids import new_email_id
from postroom.mail.compose import date_header
from postroom.mail.html_text import html_to_text
from postroom.mail.parse import read_submitted

TEMPLATE_ID_HEADER = "X-Smtp2go-Template-Id"
TEMPLATE_DATA_HEADER = "X-Smtp2go-Template-Data"
_MARKER = TEMPLATE_ID_HEADER.lower().encode("ascii") + b":"


@dataclass(frozen=True)
class SmtpSubmission:
    """What an SMTP session hands over at the end of DATA."""

    account_id: str
    username: str
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    client_ip: str
    helo: str
    protocol: str  # ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848)
    hostname: str
    sandbox: bool = False  # the SMTP user or IP-auth entry has status sandbox
    ip_pool: int | None = None  # the SMTP user's dedicated IP pool (None: the account's, else default)
    audit_email: str | None = None  # the SMTP user's audit address: gets a hidden copy


def received_header(s: SmtpSubmission, email_id: str) -> bytes:
    """The trace header of RFC 5321 §4.4 for this hop."""
    recipient = f"\r\n\tfor <{s.rcpt_tos[0]}>" if len(s.rcpt_tos) == 1 else ""
    line = (
        f"Received: from {s.helo or 'unknown'} ([{s.client_ip}])\r\n\tby {s.hostname} (Postroom) "
        f"with {s.protocol} id {email_id}{recipient}; {date_header(datetime.now(UTC))}\r\n"
    )
    return line.encode("utf-8")


def prepare_smtp(s: SmtpSubmission, max_size: int) -> repo.StoredMessage:
    """The stored message of a DATA payload; MessageTooBig over `max_size`."""
    head = read_submitted(s.raw, strict=False)
    email_id = new_email_id()
    domain = head.sender.domain if head.sender else s.hostname
    raw = received_header(s, email_id) + stored.completed(s.raw, head, email_id, domain)
    stored.check_size(raw, max_size)
    recipients = dedupe(s.rcpt_tos)
    shown = {a.addr.lower() for a in head.to + head.cc}
    origin = stored.Origin(s.account_id, s.username, "smtp", s.client_ip, s.sandbox, s.ip_pool, s.audit_email)
    return stored.from_headers(
        origin,
        email_id,
        raw,
        head,
        sender=s.mail_from,
        recipients=recipients,
        bcc=[r for r in recipients if r.lower() not in shown],
    )


def _head(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    return raw if end < 0 else raw[:end]


def template_request(raw: bytes) -> tuple[str, str] | None:
    """The template id and data (JSON text, "" when absent) the message's headers name; None when none."""
    if _MARKER not in _head(raw).lower():  # the common case, without parsing the message
        return None
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    template_id = str(msg.get(TEMPLATE_ID_HEADER, "")).strip()
    if not template_id:
        return None
    return template_id, str(msg.get(TEMPLATE_DATA_HEADER, "")).strip()


def templated(raw: bytes, subject: str, html: str, text: str) -> bytes:
    """The message with the rendered subject and body: text and HTML as alternatives, its inline
    parts (those with a Content-ID) related to them and its attachments mixed in, as /email/send's
    version 2 tree; the template headers removed."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    leaves = [p for p in msg.walk() if not p.is_multipart()] if msg.is_multipart() else []
    kept = [p for p in leaves if p.get_content_disposition() == "attachment" or p["Content-ID"]]
    inlines = [p for p in kept if p["Content-ID"] and p.get_content_disposition() != "attachment"]
    attachments = [p for p in kept if not any(p is q for q in inlines)]
    for name in (TEMPLATE_ID_HEADER, TEMPLATE_DATA_HEADER, "Subject"):
        del msg[name]
    msg["Subject"] = subject
    msg.clear_content()
    msg.set_content(text or (html_to_text(html) if html else ""))
    body: MIMEPart = msg
    if inlines:
        msg.make_related()  # related(text), then the text part becomes alternative(text, html)
        body = next(msg.iter_parts())
        for part in inlines:
            msg.attach(part)
    if html:
        body.add_alternative(html, subtype="html")
    if attachments:
        msg.make_mixed()
        for part in attachments:
            msg.attach(part)
    return msg.as_bytes(policy=email.policy.SMTP)
