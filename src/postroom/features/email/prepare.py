"""Validating and composing what the API sends: an /email/send body or an /email/mime message.

Raises InvalidInput for a field that fails validation (MessageTooBig over the size limit) and
NotFound for a template that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime

from postroom.clock import utcnow
from postroom.errors import InvalidInput, NotFound
from postroom.features.api_keys.service import Principal
from postroom.features.email import repo, schedule, stored
from postroom.features.email.schemas import MimeRequest, SendRequest
from postroom.features.email.validate import (
    address,
    addresses,
    base64_field,
    custom_headers,
    dedupe,
    files,
    no_controls,
)
from postroom.ids import new_email_id
from postroom.mail.compose import Composition, compose
from postroom.mail.html_text import html_to_text
from postroom.mail.parse import InvalidMessage, read_submitted

MAX_RECIPIENTS_PER_FIELD = 100


def prepare_send(principal: Principal, req: SendRequest, client_ip: str, max_size: int) -> repo.StoredMessage:
    """Validate and compose an /email/send body."""
    if req.template_id:
        raise NotFound(f"Template '{req.template_id}' not found")
    scheduled_at, schedule_id = _schedule(req.schedule)
    if req.version not in (1, 2):
        raise InvalidInput("version", "The field 'version' must be 1 or 2")
    sender = address("sender", req.sender)
    to, cc, bcc = addresses("to", req.to), addresses("cc", req.cc), addresses("bcc", req.bcc)
    if not to:
        raise InvalidInput("to", "The field 'to' needs at least one recipient")
    reply_values = [req.reply_to] if isinstance(req.reply_to, str) and req.reply_to else list(req.reply_to)
    reply_to = addresses("reply_to", reply_values)
    no_controls("subject", req.subject, allow_tab=True)
    if not (req.text_body or req.html_body):
        raise InvalidInput("text_body", "One of 'text_body', 'html_body' or 'template_id' is required")
    for name, body in (("text_body", req.text_body), ("html_body", req.html_body)):
        if "\x00" in body:
            raise InvalidInput(name, f"The field '{name}' must not contain NUL characters")
    headers = custom_headers(req.custom_headers)
    if schedule_id:
        headers.append((schedule.HEADER, schedule_id))
    attachments = files("attachments", req.attachments, inline=False)
    inlines = files("inlines", req.inlines, inline=True)
    email_id = new_email_id()
    raw = compose(
        Composition(
            sender=sender,
            to=to,
            cc=cc,
            subject=req.subject,
            message_id=f"<{email_id}@{sender.domain}>",
            date=datetime.now(UTC),
            text=req.text_body or (html_to_text(req.html_body) if req.html_body else ""),
            html=req.html_body,
            reply_to=reply_to,
            headers=headers,
            attachments=attachments,
            inlines=inlines,
            version=req.version,
        )
    )
    stored.check_size(raw, max_size)
    return stored.stored(
        stored.origin_of(principal, "api", client_ip),
        email_id,
        raw,
        sender=sender.addr,
        from_header=sender.header(),
        to=[a.addr for a in to],
        cc=[a.addr for a in cc],
        bcc=[a.addr for a in bcc],
        reply_to=", ".join(a.addr for a in reply_to) or _header_value(headers, "reply-to"),
        subject=req.subject,
        attachments=stored.attachment_list(attachments + inlines),
        recipients=dedupe([a.addr for a in to + cc + bcc]),
        schedule_id=schedule_id,
        scheduled_at=scheduled_at,
    )


def prepare_mime(principal: Principal, req: MimeRequest, client_ip: str, max_size: int) -> repo.StoredMessage:
    """Validate a base64 RFC 5322 message; recipients come from To/Cc/Bcc, Bcc is stripped."""
    scheduled_at, schedule_id = _schedule(req.schedule)
    raw = base64_field("mime_email", req.mime_email)
    try:
        head = read_submitted(raw)
    except InvalidMessage as exc:
        raise InvalidInput("mime_email", str(exc)) from None
    if head.sender is None:
        raise InvalidInput("mime_email", "The message has no valid From header")
    recipients = dedupe([a.addr for a in head.to + head.cc + head.bcc])
    if not recipients:
        raise InvalidInput("mime_email", "The message has no recipients in To, Cc or Bcc")
    if len(head.to) > MAX_RECIPIENTS_PER_FIELD or len(head.cc) > MAX_RECIPIENTS_PER_FIELD:
        raise InvalidInput("mime_email", "At most 100 recipients per To, Cc and Bcc header")
    email_id = new_email_id()
    raw = stored.completed(raw, head, email_id, head.sender.domain)
    if schedule_id:
        raw = schedule.with_header(raw, schedule_id)
    stored.check_size(raw, max_size)
    return stored.from_headers(
        stored.origin_of(principal, "mime", client_ip),
        email_id,
        raw,
        head,
        sender=head.sender.addr,
        recipients=recipients,
        bcc=[a.addr for a in head.bcc],
        schedule_id=schedule_id,
        scheduled_at=scheduled_at,
    )


def _schedule(value: str | int | None) -> tuple[datetime | None, str | None]:
    if value is None or value == "":
        return None, None
    return schedule.parse_schedule(value, utcnow()), schedule.new_schedule_id()


def _header_value(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for n, v in headers if n.lower() == name), "")
