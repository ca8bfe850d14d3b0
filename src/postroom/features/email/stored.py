"""Composing the StoredMessage, the one shape every door stores: from a send request's fields, or
from a submitted message's own headers (/email/mime and SMTP DATA share that path).

Raises MessageTooBig when the composed message is over the size limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from postroom.errors import MessageTooBig
from postroom.features.api_keys.service import Principal
from postroom.features.email import repo
from postroom.mail.compose import Part
from postroom.mail.parse import Submitted, attachment_meta, strip_bcc


@dataclass(frozen=True)
class Origin:
    """Who sends and through which door: the account, the key's or SMTP user's sending settings."""

    account_id: str
    username: str
    source: str  # api, mime, smtp or system
    client_ip: str
    sandbox: bool = False  # captured, never delivered (a sandbox key or SMTP user)
    ip_pool: int | None = None
    audit_email: str | None = None  # gets a hidden copy


def origin_of(principal: Principal, source: str, client_ip: str) -> Origin:
    """The origin of an API request made with this key (a sandbox key's mail is only captured)."""
    return Origin(
        account_id=principal.account_id,
        username=principal.username,
        source=source,
        client_ip=client_ip,
        sandbox=bool(getattr(principal, "sandbox", False)),
        ip_pool=principal.ip_pool,
        audit_email=principal.audit_email,
    )


def check_size(raw: bytes, limit: int) -> None:
    if len(raw) > limit:
        raise MessageTooBig(limit)


def stored(
    origin: Origin,
    email_id: str,
    raw: bytes,
    *,
    sender: str,
    from_header: str,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    reply_to: str,
    subject: str,
    attachments: list[dict[str, Any]],
    recipients: list[str],
    schedule_id: str | None = None,
    scheduled_at: datetime | None = None,
) -> repo.StoredMessage:
    """The message as stored, with the origin's audit copy added to its recipients."""
    return repo.StoredMessage(
        email_id=email_id,
        account_id=origin.account_id,
        username=origin.username,
        source=origin.source,
        client_ip=origin.client_ip,
        sender=sender,
        from_header=from_header,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        subject=subject,
        raw=raw,
        attachments=attachments,
        recipients=recipients,
        schedule_id=schedule_id,
        scheduled_at=scheduled_at,
        sandbox=origin.sandbox,
        ip_pool=origin.ip_pool,
    ).audited(origin.audit_email)


def from_headers(
    origin: Origin,
    email_id: str,
    raw: bytes,
    head: Submitted,
    *,
    sender: str,
    recipients: list[str],
    bcc: list[str],
    schedule_id: str | None = None,
    scheduled_at: datetime | None = None,
) -> repo.StoredMessage:
    """A submitted message (already completed, see `completed`) stored with its headers' addressing."""
    return stored(
        origin,
        email_id,
        raw,
        sender=sender,
        from_header=head.sender.header() if head.sender else "",
        to=[a.addr for a in head.to],
        cc=[a.addr for a in head.cc],
        bcc=bcc,
        reply_to=head.reply_to,
        subject=head.subject,
        attachments=attachment_meta(raw),
        recipients=recipients,
        schedule_id=schedule_id,
        scheduled_at=scheduled_at,
    )


def completed(raw: bytes, head: Submitted, email_id: str, domain: str) -> bytes:
    """The submitted message without Bcc headers, with Message-ID and Date prepended when it lacks
    them (RFC 5322 §3.6)."""
    extra = b""
    if not head.message_id:
        extra += f"Message-ID: <{email_id}@{domain}>\r\n".encode()
    if not head.has_date:
        extra += f"Date: {format_datetime(datetime.now(UTC))}\r\n".encode()
    return extra + strip_bcc(raw)


def attachment_list(parts: list[Part]) -> list[dict[str, Any]]:
    """The attachment metadata kept beside a composed message."""
    return [{"filename": p.filename, "mimetype": p.content_type, "size": len(p.content)} for p in parts]
