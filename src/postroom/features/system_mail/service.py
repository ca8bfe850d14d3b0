"""Mail Postroom sends on its own behalf: subaccount invitations, single-sender verification links.

It comes from `settings.system_sender` (POSTROOM_SYSTEM_FROM, `addr` or `Name <addr>`: the envelope
sender is the bare address), is stored in the given master account
like any other message (so it shows in that account's activity and capture store, and is delivered by
the configured delivery mode), and skips the account's send policy: the server, not the account, is
its author. Links are built on `settings.public_base` (POSTROOM_PUBLIC_URL).

Its body carries a one-time link meant for its recipient only, so the capture API and the dashboard
withhold the body of messages with source `SOURCE` from the account unless the server runs in capture
delivery mode (features/messages/service.py). A message sent on behalf of a sandbox key is stored
with `sandbox=True`: captured, never delivered.
"""

from __future__ import annotations

from datetime import UTC, datetime

from postroom.features.email import stored
from postroom.features.email.service import SYSTEM_SOURCE, EmailService
from postroom.ids import new_email_id
from postroom.mail.addresses import Address, parse_address
from postroom.mail.compose import Composition, compose
from postroom.settings import Settings

USERNAME = "postroom"
DEFAULT_NAME = "Postroom"  # the From display name when POSTROOM_SYSTEM_FROM gives none
SOURCE = SYSTEM_SOURCE  # its messages' `source`: no account rule applies to them


class SystemMailer:
    def __init__(self, settings: Settings, email: EmailService) -> None:
        self._settings = settings
        self._email = email
        self._sender = parse_address(settings.system_sender)

    def link(self, path: str) -> str:
        """An absolute URL on the public base for a path like `/verify/sender/<token>`."""
        return self._settings.public_base + path

    async def send(
        self, account_id: str, to: str, subject: str, text: str, html: str = "", sandbox: bool = False
    ) -> str:
        """Store (durably) and queue one message to `to`, recorded in `account_id`; its email_id.

        With `sandbox` (the request came from a sandbox key) the message is captured, never delivered.
        """
        recipient = parse_address(to)
        email_id = new_email_id()
        sender = Address(self._sender.addr, self._sender.name or DEFAULT_NAME)
        raw = compose(
            Composition(
                sender=sender,
                to=[recipient],
                cc=[],
                subject=subject,
                message_id=f"<{email_id}@{self._sender.domain}>",
                date=datetime.now(UTC),
                text=text,
                html=html,
                headers=[("Auto-Submitted", "auto-generated")],
            )
        )
        message = stored.stored(
            stored.Origin(account_id, USERNAME, SOURCE, client_ip="", sandbox=sandbox),
            email_id,
            raw,
            sender=sender.addr,
            from_header=sender.header(),
            to=[recipient.addr],
            cc=[],
            bcc=[],
            reply_to="",
            subject=subject,
            attachments=[],
            recipients=[recipient.addr],
        )
        return await self._email.accept(message)
