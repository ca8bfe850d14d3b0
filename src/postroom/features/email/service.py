"""The send path: validate, compose, and store durably before answering, for every door.

The parts live beside it by responsibility: validate.py checks fields, prepare.py composes what the
API sends, submission.py what SMTP hands over, stored.py builds the one StoredMessage shape they all
store, results.py shapes the answers. This module applies the send policy, stores, and serves the
scheduled-mail endpoints. Raises InvalidInput for a field that fails validation (MessageTooBig over
the size limit) and NotFound for a template that does not exist; policy refusals are reported in
`failures` with HTTP 200, as decisions.md requires.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Protocol

import msgspec

from postroom.clock import rfc3339, utcnow
from postroom.errors import InvalidInput, NotFound, PostroomError
from postroom.features.activity.match import check_search
from postroom.features.api_keys.service import Principal
from postroom.features.email import prepare, repo, schedule, submission
from postroom.features.email.policy import Policies
from postroom.features.email.results import batch_error, batch_result, send_result
from postroom.features.email.schemas import (
    BatchItemError,
    FastAcceptResult,
    MimeRequest,
    ScheduledItem,
    ScheduledSearchRequest,
    SendRequest,
    SendResult,
)
from postroom.features.email.submission import SmtpSubmission, prepare_smtp
from postroom.features.suppressions.lookup import SuppressedLookup
from postroom.features.templates.service import TemplateService
from postroom.storage.database import Database

SYSTEM_SOURCE = "system"  # Postroom's own mail (features/system_mail): no account rule applies to it


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
        templates: TemplateService | None = None,
    ) -> None:
        self.policy = policy or Policies()
        self.templates = templates  # without one, a send naming template_id is a 404
        self.advisor: SenderAdvisor | None = None  # warns where a policy that is off would refuse
        self._db = db
        self._max_size = max_size
        self._on_accepted = on_accepted
        self._suppressed = SuppressedLookup(db)

    def prepare_send(self, principal: Principal, req: SendRequest, client_ip: str) -> repo.StoredMessage:
        """Validate and compose an /email/send body; raise InvalidInput or NotFound."""
        return prepare.prepare_send(principal, req, client_ip, self._max_size)

    def prepare_mime(self, principal: Principal, req: MimeRequest, client_ip: str) -> repo.StoredMessage:
        """Validate a base64 RFC 5322 message; recipients come from To/Cc/Bcc, Bcc is stripped."""
        return prepare.prepare_mime(principal, req, client_ip, self._max_size)

    async def prepare_smtp(self, s: SmtpSubmission) -> repo.StoredMessage:
        """An SMTP DATA payload as stored (features/email/submission.py), rendered first when its
        headers name a template; MessageTooBig over the limit, InvalidInput for an unknown template
        or bad template data."""
        named = submission.template_request(s.raw) if self.templates is not None else None
        if named is not None and self.templates is not None:
            template_id, data = named
            try:
                rendered = await self.templates.render(s.account_id, template_id, data, self._max_size)
            except NotFound as exc:  # over SMTP the message names it: a bad message, not a 404
                raise InvalidInput(submission.TEMPLATE_ID_HEADER, exc.message) from None
            except InvalidInput as exc:
                raise InvalidInput(submission.TEMPLATE_DATA_HEADER, exc.message) from None
            raw = submission.templated(s.raw, rendered.subject, rendered.html, rendered.text)
            s = dataclasses.replace(s, raw=raw)
        return prepare_smtp(s, self._max_size)

    async def accept(self, message: repo.StoredMessage) -> str:
        """Store the message, its deliveries and events; returns after the commit is durable.

        No send-policy check here: the SMTP door applies the policy at MAIL FROM and RCPT TO."""
        return (await self._write(message)).email_id

    async def suppressed(self, account_id: str, recipients: list[str]) -> set[str]:
        """The recipients (lower-cased) on the account's suppression list, asked by the SMTP door at
        RCPT TO; the API path checks them in the transaction that stores the message (repo._refused)."""
        return await self._suppressed.suppressed(account_id, recipients)

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

    async def templated(self, principal: Principal, req: SendRequest) -> SendRequest:
        """The request with its template's subject, HTML and text filled with `template_data` (the
        request's own bodies and subject are ignored); unchanged without `template_id`. NotFound for an
        unknown template, InvalidInput for bad data or a template that expands past the size limit."""
        if not req.template_id or self.templates is None:
            return req
        rendered = await self.templates.render(
            principal.account_id, req.template_id, req.template_data, self._max_size
        )
        return msgspec.structs.replace(
            req,
            subject=rendered.subject,
            html_body=rendered.html,
            text_body=rendered.text,
            template_id="",
            template_data=None,
        )

    async def send(
        self, principal: Principal, req: SendRequest, client_ip: str
    ) -> SendResult | FastAcceptResult:
        req = await self.templated(principal, req)
        return send_result(await self.store(self.prepare_send(principal, req, client_ip)), req.fastaccept)

    async def send_mime(
        self, principal: Principal, req: MimeRequest, client_ip: str
    ) -> SendResult | FastAcceptResult:
        return send_result(await self.store(self.prepare_mime(principal, req, client_ip)), req.fastaccept)

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
                item = await self.templated(principal, item)
                prepared.append(self.prepare_send(principal, item, client_ip))
            except PostroomError as exc:
                prepared.append(exc)
        valid = [p for p in prepared if not isinstance(p, PostroomError)]
        stored = iter(await asyncio.gather(*(self.store(p) for p in valid), return_exceptions=True))
        return [
            batch_error(p) if isinstance(p, PostroomError) else batch_result(next(stored)) for p in prepared
        ]


__all__ = ["SYSTEM_SOURCE", "EmailService", "SenderAdvisor", "SmtpSubmission"]
