"""The send path: validate, compose, and store durably before answering.

Raises InvalidInput for a field that fails validation and NotFound for a template that does not
exist. Policy refusals (none exist yet: allow lists and suppressions come later) will be reported
in `failures` with HTTP 200, as decisions.md requires.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import ObsoleteHeaderDefect
from email.headerregistry import AddressHeader, DateHeader, HeaderRegistry, UnstructuredHeader
from email.utils import format_datetime
from typing import Any, Protocol

from postroom.clock import rfc3339, utcnow
from postroom.errors import InvalidInput, NotFound, PostroomError
from postroom.features.activity.match import check_search
from postroom.features.api_keys.service import Principal
from postroom.features.email import repo, schedule
from postroom.features.email.policy import Policies
from postroom.features.email.schemas import (
    BatchItemError,
    FastAcceptResult,
    FileItem,
    MimeRequest,
    ScheduledItem,
    ScheduledSearchRequest,
    SendRequest,
    SendResult,
)
from postroom.ids import new_email_id
from postroom.mail.addresses import Address, AddressError, normalize_mailbox, parse_address
from postroom.mail.compose import Composition, Part, compose, date_header, parse_mimetype
from postroom.mail.html_text import html_to_text
from postroom.mail.parse import MSG_ID, InvalidMessage, attachment_meta, read_submitted, strip_bcc
from postroom.mail.text import describe_char, find_control
from postroom.storage.database import Database

SYSTEM_SOURCE = "system"  # Postroom's own mail (features/system_mail): no account rule applies to it
FORBIDDEN_HEADERS = {"content-type", "content-transfer-encoding", "mime-version", "bcc", "resent-bcc"}
_HEADER_NAME = re.compile(r"^[!-9;-~]{1,76}$")  # RFC 5322 §3.6.8 ftext
_CID = re.compile(r"[!-;=?-~]+")  # printable ASCII without "<", ">" or white space (RFC 2392 via §3.6.4)
_WHITESPACE = str.maketrans("", "", " \t\r\n\f\v")
_HEADERS = HeaderRegistry()  # the header classes of email.policy.default
MAX_RECIPIENTS_PER_FIELD = 100
log = logging.getLogger(__name__)


def _address(field: str, value: str) -> Address:
    try:
        return parse_address(value)
    except AddressError as exc:
        reason = f" ({exc.reason})" if exc.reason else ""
        raise InvalidInput(
            field,
            f"The field '{field}' was expecting a valid RFC-822 formatted email field but found "
            f"'{value}'{reason}, Please correct your JSON payload and try again.",
        ) from None


def _addresses(field: str, values: list[str]) -> list[Address]:
    return [_address(field, v) for v in values]


def _no_controls(field: str, value: str, allow_tab: bool = False) -> None:
    """Refuse line breaks of every kind and other control characters (see mail/text.py)."""
    bad = find_control(value, allow_tab)
    if bad is not None:
        raise InvalidInput(
            field,
            f"The field '{field}' must not contain line breaks or control characters ({describe_char(bad)})",
        )


def _headers(items: list[Any]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, value = item.header.strip(), item.value
        if not _HEADER_NAME.match(name):
            raise InvalidInput("custom_headers", f"'{name}' is not a valid header name")
        if name.lower() in FORBIDDEN_HEADERS:
            raise InvalidInput("custom_headers", f"The header '{name}' is not allowed in custom_headers")
        _no_controls("custom_headers", value, allow_tab=True)
        out.append((name, _structured(name, value)))
    return out


def _structured(name: str, value: str) -> str:
    """A custom header that replaces a generated one (addresses, Message-ID, Date, MIME headers) must
    parse as its kind, or the stored message could not be read back; address lists come back with
    IDNA-encoded domains and RFC 2047-encoded names."""
    if name.lower() in ("message-id", "resent-message-id"):
        if not MSG_ID.fullmatch(value.strip()):
            raise InvalidInput("custom_headers", f"The header '{name}' is not a msg-id like <id@domain>")
        return value.strip()
    kind = _HEADERS.registry.get(name.lower())
    if kind is None or issubclass(kind, UnstructuredHeader):
        return value
    try:
        parsed: Any = _HEADERS(name, value)
    except Exception:
        raise InvalidInput("custom_headers", f"The header '{name}' cannot be parsed: '{value}'") from None
    defects = [d for d in parsed.defects if not isinstance(d, ObsoleteHeaderDefect)]
    if defects or (isinstance(parsed, DateHeader) and parsed.datetime is None):
        raise InvalidInput("custom_headers", f"The header '{name}' is malformed: '{value}'")
    if isinstance(parsed, AddressHeader):
        return _address_list(name, value, parsed)
    return value


def _address_list(name: str, value: str, parsed: AddressHeader) -> str:
    addresses = []
    for found in parsed.addresses:
        try:
            addresses.append(Address(normalize_mailbox(found.addr_spec), found.display_name))
        except AddressError as exc:
            reason = f" ({exc.reason})" if exc.reason else ""
            raise InvalidInput(
                "custom_headers", f"The header '{name}' has an invalid address '{found.addr_spec}'{reason}"
            ) from None
    if value.isascii():
        return value  # as given, groups included
    return ", ".join(a.header() for a in addresses)


def _base64(field: str, blob: str, item: str = "") -> bytes:
    """Strict base64 after removing ASCII white space (`base64`, encodebytes and chunk_split wrap lines)."""
    try:
        return base64.b64decode(blob.translate(_WHITESPACE), validate=True)
    except (binascii.Error, ValueError):
        named = f" item '{item}'" if item else ""
        raise InvalidInput(field, f"The field '{field}'{named} is not valid base64") from None


def _mimetype(field: str, item: FileItem) -> tuple[str, tuple[tuple[str, str], ...]]:
    if not isinstance(item.mimetype, str) or not item.mimetype.strip():
        return "", ()
    _no_controls(field, item.mimetype)
    parsed = parse_mimetype(item.mimetype)
    if parsed is None:
        raise InvalidInput(
            field,
            f"The field '{field}' item '{item.filename}': mimetype '{item.mimetype}' is not a type/subtype"
            " media type (RFC 2045 §5.1)",
        )
    return parsed


def _cid(field: str, item: FileItem) -> str:
    cid = item.cid.strip() or item.filename
    if cid.startswith("<") and cid.endswith(">"):
        cid = cid[1:-1]
    if not _CID.fullmatch(cid):
        source = "cid" if item.cid.strip() else "filename (used as the Content-ID when no cid is given)"
        raise InvalidInput(
            field,
            f"The field '{field}' item '{item.filename}': the {source} must be printable ASCII without"
            " spaces, '<' or '>'",
        )
    return cid


def _files(field: str, items: list[FileItem], inline: bool) -> list[Part]:
    parts = []
    for item in items:
        _no_controls(field, item.filename)
        if not item.fileblob:
            reason = "fetching attachments by url is not supported" if item.url else "fileblob is required"
            raise InvalidInput(field, f"The field '{field}' item '{item.filename}': {reason}")
        content = _base64(field, item.fileblob, item.filename)
        mimetype, params = _mimetype(field, item)
        cid = _cid(field, item) if inline else ""
        parts.append(Part(filename=item.filename, content=content, mimetype=mimetype, cid=cid, params=params))
    return parts


def _dedupe(addresses: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for addr in addresses:
        if addr.lower() not in seen:
            seen.add(addr.lower())
            out.append(addr)
    return out


def _attachment_meta(parts: list[Part]) -> list[dict[str, Any]]:
    return [{"filename": p.filename, "mimetype": p.content_type, "size": len(p.content)} for p in parts]


class SenderAdvisor(Protocol):
    async def sender_warning(self, account_id: str, sender: str) -> str | None: ...


class EmailService:
    """Accepts messages from any door (API send, API MIME, later SMTP) into the same store."""

    def __init__(
        self,
        db: Database,
        max_size: int,
        on_accepted: Callable[[], None] = lambda: None,
        policy: Policies | None = None,
    ) -> None:
        self.policy = policy or Policies()
        self.advisor: SenderAdvisor | None = None  # warns where a policy that is off would refuse
        self._db = db
        self._max_size = max_size
        self._on_accepted = on_accepted

    def prepare_send(self, principal: Principal, req: SendRequest, client_ip: str) -> repo.StoredMessage:
        """Validate and compose an /email/send body; raise InvalidInput or NotFound."""
        if req.template_id:
            raise NotFound(f"Template '{req.template_id}' not found")
        scheduled_at, schedule_id = _schedule(req.schedule)
        if req.version not in (1, 2):
            raise InvalidInput("version", "The field 'version' must be 1 or 2")
        sender = _address("sender", req.sender)
        to, cc, bcc = _addresses("to", req.to), _addresses("cc", req.cc), _addresses("bcc", req.bcc)
        if not to:
            raise InvalidInput("to", "The field 'to' needs at least one recipient")
        reply_values = (
            [req.reply_to] if isinstance(req.reply_to, str) and req.reply_to else list(req.reply_to)
        )
        reply_to = _addresses("reply_to", reply_values)
        _no_controls("subject", req.subject, allow_tab=True)
        if not (req.text_body or req.html_body):
            raise InvalidInput("text_body", "One of 'text_body', 'html_body' or 'template_id' is required")
        for name, body in (("text_body", req.text_body), ("html_body", req.html_body)):
            if "\x00" in body:
                raise InvalidInput(name, f"The field '{name}' must not contain NUL characters")
        headers = _headers(req.custom_headers)
        if schedule_id:
            headers.append((schedule.HEADER, schedule_id))
        attachments = _files("attachments", req.attachments, inline=False)
        inlines = _files("inlines", req.inlines, inline=True)
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
        self._check_size(raw)
        return repo.StoredMessage(
            email_id=email_id,
            account_id=principal.account_id,
            username=principal.username,
            source="api",
            client_ip=client_ip,
            sender=sender.addr,
            from_header=sender.header(),
            to=[a.addr for a in to],
            cc=[a.addr for a in cc],
            bcc=[a.addr for a in bcc],
            reply_to=", ".join(a.addr for a in reply_to) or _header_value(headers, "reply-to"),
            subject=req.subject,
            raw=raw,
            attachments=_attachment_meta(attachments + inlines),
            recipients=_dedupe([a.addr for a in to + cc + bcc]),
            schedule_id=schedule_id,
            scheduled_at=scheduled_at,
            sandbox=_sandboxed(principal),
            ip_pool=principal.ip_pool,
        ).audited(principal.audit_email)

    def prepare_mime(self, principal: Principal, req: MimeRequest, client_ip: str) -> repo.StoredMessage:
        """Validate a base64 RFC 5322 message; recipients come from To/Cc/Bcc, Bcc is stripped."""
        scheduled_at, schedule_id = _schedule(req.schedule)
        raw = _base64("mime_email", req.mime_email)
        try:
            head = read_submitted(raw)
        except InvalidMessage as exc:
            raise InvalidInput("mime_email", str(exc)) from None
        if head.sender is None:
            raise InvalidInput("mime_email", "The message has no valid From header")
        recipients = _dedupe([a.addr for a in head.to + head.cc + head.bcc])
        if not recipients:
            raise InvalidInput("mime_email", "The message has no recipients in To, Cc or Bcc")
        if len(head.to) > MAX_RECIPIENTS_PER_FIELD or len(head.cc) > MAX_RECIPIENTS_PER_FIELD:
            raise InvalidInput("mime_email", "At most 100 recipients per To, Cc and Bcc header")
        email_id = new_email_id()
        raw = _complete_headers(strip_bcc(raw), head.message_id, head.has_date, email_id, head.sender.domain)
        if schedule_id:
            raw = schedule.with_header(raw, schedule_id)
        self._check_size(raw)
        return repo.StoredMessage(
            email_id=email_id,
            account_id=principal.account_id,
            username=principal.username,
            source="mime",
            client_ip=client_ip,
            sender=head.sender.addr,
            from_header=head.sender.header(),
            to=[a.addr for a in head.to],
            cc=[a.addr for a in head.cc],
            bcc=[a.addr for a in head.bcc],
            reply_to=head.reply_to,
            subject=head.subject,
            raw=raw,
            attachments=attachment_meta(raw),
            recipients=recipients,
            schedule_id=schedule_id,
            scheduled_at=scheduled_at,
            sandbox=_sandboxed(principal),
            ip_pool=principal.ip_pool,
        ).audited(principal.audit_email)

    def prepare_smtp(self, s: SmtpSubmission) -> repo.StoredMessage:
        """An SMTP DATA payload: the envelope decides the recipients; Bcc headers are removed;
        Received, and Message-ID/Date when missing, are added to the stored copy."""
        head = read_submitted(s.raw, strict=False)
        email_id = new_email_id()
        domain = head.sender.domain if head.sender else s.hostname
        raw = _complete_headers(strip_bcc(s.raw), head.message_id, head.has_date, email_id, domain)
        raw = received_header(s, email_id) + raw
        self._check_size(raw)
        recipients = _dedupe(s.rcpt_tos)
        shown = {a.addr.lower() for a in head.to + head.cc}
        return repo.StoredMessage(
            email_id=email_id,
            account_id=s.account_id,
            username=s.username,
            source="smtp",
            client_ip=s.client_ip,
            sender=s.mail_from,
            from_header=head.sender.header() if head.sender else "",
            to=[a.addr for a in head.to],
            cc=[a.addr for a in head.cc],
            bcc=[r for r in recipients if r.lower() not in shown],
            reply_to=head.reply_to,
            subject=head.subject,
            raw=raw,
            attachments=attachment_meta(raw),
            recipients=recipients,
            sandbox=s.sandbox,
            ip_pool=s.ip_pool,
        ).audited(s.audit_email)

    def _check_size(self, raw: bytes) -> None:
        if len(raw) > self._max_size:
            raise InvalidInput("body", f"The message is larger than the limit of {self._max_size} bytes")

    async def accept(self, message: repo.StoredMessage) -> str:
        """Store the message, its deliveries and events; returns after the commit is durable.

        No send-policy check here: the SMTP door applies the policy at MAIL FROM and RCPT TO."""
        return (await self._write(message)).email_id

    async def store(self, message: repo.StoredMessage) -> repo.Accepted:
        """Apply the send policy, then store; says which recipients were refused and why. The
        policy is asked about the addressed recipients, not the audit copy (StoredMessage.audited),
        and a message none of whose addressed recipients may have it is not stored."""
        if not self.policy.active:
            return await self._write(message)
        sender_refusal = await self.policy.sender_refusal(message.account_id, message.sender)
        if sender_refusal:
            return repo.Accepted("", [], len(message.addressed), failures=(sender_refusal,), stored=False)
        addressed = message.addressed  # the audit copy is the account's own setting: not asked about
        refused = await self.policy.recipient_refusals(message.account_id, addressed)
        if refused:
            keep = [r for r in message.recipients if r not in refused]
            failures = tuple(refused.values())
            if not any(r != message.audit_email for r in keep):
                return repo.Accepted("", [], len(addressed), failures=failures, stored=False)
            accepted = await self._write(dataclasses.replace(message, recipients=keep))
            return dataclasses.replace(accepted, failures=failures)
        return await self._write(message)

    async def _write(self, message: repo.StoredMessage) -> repo.Accepted:
        if self.advisor is not None and message.source != SYSTEM_SOURCE:
            warning = await self.advisor.sender_warning(message.account_id, message.sender)
            if warning:
                message = dataclasses.replace(message, warnings=(*message.warnings, warning))
        accepted: repo.Accepted = await self._db.write_batched(repo.insert_messages, (message, utcnow()))
        self._on_accepted()
        return accepted

    async def send(
        self, principal: Principal, req: SendRequest, client_ip: str
    ) -> SendResult | FastAcceptResult:
        return _send_result(await self.store(self.prepare_send(principal, req, client_ip)), req.fastaccept)

    async def send_mime(
        self, principal: Principal, req: MimeRequest, client_ip: str
    ) -> SendResult | FastAcceptResult:
        return _send_result(await self.store(self.prepare_mime(principal, req, client_ip)), req.fastaccept)

    async def scheduled(self, principal: Principal, req: ScheduledSearchRequest) -> list[ScheduledItem]:
        """Scheduled messages of this account that are not yet due, soonest first."""
        filters = {
            "schedule_id": check_search("schedule_id", req.schedule_id),
            "subject": check_search("search_subject", req.search_subject),
            "sender": check_search("search_sender", req.search_sender),
            "recipient": check_search("search_recipient", req.search_recipient),
        }
        now = utcnow()
        rows = await self._db.read(
            lambda c: schedule.search(c, principal.account_id, now, filters, req.limit, req.page)
        )
        return [
            ScheduledItem(
                r["schedule_id"],
                rfc3339(r["scheduled_at"]),
                r["sender"],
                r["subject"],
                schedule.recipients_text(r),
                r["client_ip"],
            )
            for r in rows
        ]

    async def remove_scheduled(self, principal: Principal, schedule_id: str) -> str:
        """Cancel a scheduled message before its time; NotFound if there is none (or it has gone)."""
        now = utcnow()
        if not await self._db.write(lambda c: schedule.remove(c, principal.account_id, schedule_id, now)):
            raise NotFound(f"No scheduled email with schedule_id '{schedule_id}' is waiting to be sent")
        return "Scheduled email removed"

    async def send_batch(
        self, principal: Principal, items: list[SendRequest | PostroomError], client_ip: str
    ) -> list[SendResult | BatchItemError]:
        """Each item on its own: invalid ones report their error, valid ones are stored."""
        prepared: list[repo.StoredMessage | PostroomError] = []
        for item in items:
            if isinstance(item, PostroomError):
                prepared.append(item)
                continue
            try:
                prepared.append(self.prepare_send(principal, item, client_ip))
            except PostroomError as exc:
                prepared.append(exc)
        valid = [p for p in prepared if not isinstance(p, PostroomError)]
        stored = iter(await asyncio.gather(*(self.store(p) for p in valid), return_exceptions=True))
        return [
            _batch_error(p) if isinstance(p, PostroomError) else _batch_result(next(stored)) for p in prepared
        ]


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


def _refusals(accepted: repo.Accepted) -> list[str]:
    suppressed = [f"{r} is on the suppression list and was not sent to" for r in accepted.refused]
    return [*accepted.failures, *suppressed]


def _sandboxed(principal: Principal) -> bool:
    """A sandbox key's mail is captured, never delivered (whatever the delivery mode)."""
    return bool(getattr(principal, "sandbox", False))


def _schedule(value: str | int | None) -> tuple[datetime | None, str | None]:
    if value is None or value == "":
        return None, None
    return schedule.parse_schedule(value, utcnow()), schedule.new_schedule_id()


def _send_result(accepted: repo.Accepted, fastaccept: bool) -> SendResult | FastAcceptResult:
    """The answer of decisions.md: every recipient refused → failed, no email_id; some → listed."""
    if accepted.all_refused:
        return SendResult(0, 1, _refusals(accepted), "")
    extra = {"schedule_id": accepted.schedule_id} if accepted.schedule_id else {}
    if fastaccept:
        return FastAcceptResult(accepted.email_id, **extra)
    return SendResult(1, 0, _refusals(accepted), accepted.email_id, **extra)


def _batch_result(outcome: repo.Accepted | BaseException) -> SendResult | BatchItemError:
    """One stored item's answer: its email_id, or its storage failure reported in its place."""
    if isinstance(outcome, repo.Accepted):
        result = _send_result(outcome, False)
        assert isinstance(result, SendResult)
        return result
    if isinstance(outcome, PostroomError):
        return _batch_error(outcome)
    if not isinstance(outcome, Exception):  # cancellation and the like are not one item's failure
        raise outcome
    log.error("storing a batch item failed", exc_info=outcome)
    return _batch_error(PostroomError("An unexpected error occurred storing this email; see the server log"))


def _batch_error(exc: PostroomError) -> BatchItemError:
    data = exc.data()
    return BatchItemError(
        succeeded=0,
        failed=1,
        failures=[exc.message],
        email_id="",
        error=data["error"],
        error_code=data["error_code"],
        field_validation_errors=data.get("field_validation_errors", {}),
    )


def _header_value(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for n, v in headers if n.lower() == name), "")


def _complete_headers(raw: bytes, message_id: str, has_date: bool, email_id: str, domain: str) -> bytes:
    """Prepend Message-ID and Date when the submitted message lacks them (RFC 5322 §3.6)."""
    extra = b""
    if not message_id:
        extra += f"Message-ID: <{email_id}@{domain}>\r\n".encode()
    if not has_date:
        extra += f"Date: {format_datetime(datetime.now(UTC))}\r\n".encode()
    return extra + raw
