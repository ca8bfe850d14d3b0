"""SMTP submission into the send path: what a session hands over at the end of DATA, and the stored
message made from it (the envelope decides the recipients; Bcc headers are removed; Received, and
Message-ID/Date when missing, are added to the stored copy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from postroom.features.email import repo, stored
from postroom.features.email.validate import dedupe
from postroom.ids import new_email_id
from postroom.mail.compose import date_header
from postroom.mail.parse import read_submitted


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
