"""The aiosmtpd handler: SMTP policy at each step, then the same EmailService as the HTTP API.

Who may send: a client that authenticated as an SMTP user (AUTH PLAIN or LOGIN), or whose address
has an IP-auth entry (then the IP is its username). Anyone else may only hand in feedback: mail to
the VERP return-path domain (bounces, complaints), which goes to the feedback service and is never
relayed; any other recipient gets 530 at RCPT TO, so the server is never an open relay.

A closed subaccount's SMTP users fail AUTH like a wrong password (535 5.7.8), and a session that
authenticated before the close is refused at MAIL FROM and DATA. A subaccount whose monthly quota
has no room is refused at MAIL FROM with 550 5.7.1 and the quota sentence: permanent, because the
quota comes back only next month or when the master raises the plan, and a 4xx would have clients
queue and retry for days while the sender never hears why. The store at DATA counts the message
against the quota under a lock (features/subaccounts/quota.py), so parallel sessions, in any number
of processes, cannot overshoot it: the ones that find it full get the same 550 at DATA.

A recipient on the sender's account's suppression list (an address, or a domain covering it) is
refused at RCPT TO with 550 5.7.1, read from the database each time so a removal applies at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
import re
import ssl
from typing import Any, Protocol

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session, TLSSetupException

from postroom.errors import PostroomError
from postroom.features.email.service import EmailService
from postroom.features.email.submission import SmtpSubmission
from postroom.features.feedback.service import FeedbackService
from postroom.features.smtp_users.service import SmtpSender
from postroom.ratelimit import MemoryWindows, WindowCounter, Windows
from postroom.settings import Settings
from postroom.smtp import replies
from postroom.smtp.errors import reply_for

log = logging.getLogger(__name__)
AUTH_WINDOW = 600.0  # seconds over which failed AUTH attempts of one IP are counted
AUTH_LOCKOUT = 20  # failures in the window after which the IP is refused outright
EXTRA_EHLO = ["250-PIPELINING", "250-ENHANCEDSTATUSCODES"]  # RFC 2920, RFC 2034
# RFC 5321 §4.1.1.1: a domain or an address literal; nothing that could break the Received header.
HELO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})|\[[0-9A-Fa-f:.IPv]{2,60}\]")
UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")  # control characters never belong in an address
FEEDBACK_ONLY = "postroom_feedback_only"  # envelope attribute: an unauthenticated transaction


def auth_key(ip: str) -> str:
    """Failed-AUTH accounting per IPv4 address, per /64 for IPv6 (a client usually holds a whole /64)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if isinstance(address, ipaddress.IPv6Address) else str(address)


class SmtpUsers(Protocol):
    async def authenticate(self, username: str, password: str) -> SmtpSender | None: ...

    async def sender(self, username: str) -> SmtpSender | None: ...


class IpSenders(Protocol):
    async def sender_for_ip(self, ip: str) -> SmtpSender | None: ...


class Accounts(Protocol):
    """A sender's account standing (features.subaccounts.service.SubaccountService)."""

    async def is_closed(self, account_id: str) -> bool: ...

    async def sending_refusal(self, account_id: str, messages: int = 1) -> str: ...


def _peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer or "")


def _protocol(server: SMTP, session: Session) -> str:
    """RFC 3848 protocol type for the Received header."""
    tls = bool(getattr(server, "implicit_tls", False) or session.ssl)
    return "ESMTP" + ("S" if tls else "") + ("A" if session.authenticated else "")


class SubmissionHandler:
    """aiosmtpd hooks (handle_*, auth_*); each returns a reply from smtp.replies."""

    def __init__(
        self,
        settings: Settings,
        email: EmailService,
        users: SmtpUsers,
        ips: IpSenders,
        feedback: FeedbackService | None = None,
        accounts: Accounts | None = None,
        windows: Windows | None = None,
    ) -> None:
        self._settings = settings
        self._accounts = accounts
        self._email = email
        self._feedback = feedback
        self._users = users
        self._ips = ips
        self._auth_failures = WindowCounter()
        self._windows: Windows = windows or MemoryWindows()  # SMTP users' sending limits

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        if not HELO_NAME.fullmatch(hostname):
            return [replies.BAD_HELO]
        session.host_name = hostname
        return responses[:-1] + EXTRA_EHLO + responses[-1:]

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        if not HELO_NAME.fullmatch(hostname):
            return replies.BAD_HELO
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if UNSAFE.search(address):
            return replies.BAD_ADDRESS
        sender = await self._current_sender(session)
        if sender is None:
            if self._feedback is None:
                return replies.MUST_AUTHENTICATE
            setattr(envelope, FEEDBACK_ONLY, True)  # recipients must be return paths (checked at RCPT)
            envelope.mail_from = address
            return replies.SENDER_OK
        refusal: str | None = self._sender_refusal(sender)
        if not refusal and self._accounts is not None:
            refusal = await self._accounts.sending_refusal(sender.account_id)
        if not refusal and self._email.policy.active:
            refusal = await self._email.policy.sender_refusal(sender.account_id, address)
        if refusal:
            return replies.SENDER_REFUSED.format(reason=refusal)
        if sender.ratelimit:  # one atomic take, so parallel sessions (and processes) cannot overrun
            limit, seconds = sender.ratelimit
            taken = await self._windows.take(f"smtp-sent:{sender.username}", 1, limit, seconds)
            if not taken.fitted:
                return replies.RATE_LIMITED
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return replies.SENDER_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if UNSAFE.search(address):
            return replies.BAD_ADDRESS
        if len(envelope.rcpt_tos) >= self._settings.smtp_max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        if getattr(envelope, FEEDBACK_ONLY, False) and not (
            self._feedback is not None and self._feedback.is_return_path(address)
        ):
            return replies.MUST_AUTHENTICATE
        if not getattr(envelope, FEEDBACK_ONLY, False):
            refusal = await self._recipient_refusal(session, address)
            if refusal:
                return replies.RECIPIENT_REFUSED.format(reason=refusal)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if getattr(envelope, FEEDBACK_ONLY, False) and self._feedback is not None:
            return await self._receive_feedback(envelope)
        sender = await self._current_sender(session)  # again: it may have been blocked since MAIL FROM
        if sender is None:
            return replies.MUST_AUTHENTICATE
        refusal = self._sender_refusal(sender)
        if not refusal and self._accounts is not None and await self._accounts.is_closed(sender.account_id):
            refusal = f"the subaccount {sender.account_id} is closed"
        if refusal:
            return replies.SENDER_REFUSED.format(reason=refusal)
        raw = envelope.original_content or b""
        submission = SmtpSubmission(
            account_id=sender.account_id,
            username=sender.username,
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
            client_ip=_peer_ip(session),
            helo=session.host_name or "",
            protocol=_protocol(server, session),
            hostname=self._settings.hostname,
            sandbox=sender.status == "sandbox",
            ip_pool=sender.ip_pool,
            audit_email=sender.audit_email,
        )
        try:
            email_id = await self._email.accept(await self._email.prepare_smtp(submission))
        except PostroomError as exc:
            return reply_for(exc, self._settings.smtp_max_size)
        return replies.ACCEPTED.format(email_id=email_id)

    async def _recipient_refusal(self, session: Session, address: str) -> str | None:
        sender = session.auth_data  # as checked at MAIL FROM
        if not isinstance(sender, SmtpSender):
            return None
        if self._email.policy.active:
            refused = await self._email.policy.recipient_refusals(sender.account_id, [address])
            if address in refused:
                return refused[address]
        if await self._email.suppressed(sender.account_id, [address]):
            return f"{address} is on the suppression list"
        return None

    async def _receive_feedback(self, envelope: Envelope) -> str:
        assert self._feedback is not None
        try:
            received = await self._feedback.receive(list(envelope.rcpt_tos), envelope.original_content or b"")
        except PostroomError as exc:
            return reply_for(exc, self._settings.smtp_max_size)
        return replies.FEEDBACK_ACCEPTED.format(feedback_id=received.feedback_id)

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, (TLSSetupException, ssl.SSLError, ConnectionError)):
            log.info("SMTP session ended: %s", error)  # a client's failed handshake is not our error
        else:
            log.error("SMTP session error", exc_info=error)
        return replies.INTERNAL

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        blob = await self._initial_response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Cannot split the PLAIN credentials")
            return AuthResult(success=False, handled=True)
        return await self._verify(server, parts[1], parts[2])

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        login = await self._initial_response(server, args, SMTP.AuthLoginUsernameChallenge)
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth(SMTP.AuthLoginPasswordChallenge)
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(password, bytes)
        return await self._verify(server, login, password)

    async def _initial_response(self, server: SMTP, args: list[str], challenge: str) -> bytes | None:
        """The credentials given with AUTH, or asked for with a 334 challenge; None if unusable."""
        if len(args) == 1:
            blob: Any = await server.challenge_auth(challenge)
            return None if blob is MISSING else bytes(blob)
        try:
            return base64.b64decode(args[1].encode(), validate=True)
        except (binascii.Error, ValueError):
            await server.push("501 5.5.2 Cannot decode base64")
            return None

    async def _verify(self, server: SMTP, login: bytes, password: bytes) -> AuthResult:
        assert server.session is not None
        ip = _peer_ip(server.session)
        failures = self._auth_failures.count(ip, AUTH_WINDOW)
        if failures >= AUTH_LOCKOUT:
            return AuthResult(success=False, handled=False, message=replies.AUTH_SLOW_DOWN)
        sender = await self._users.authenticate(
            login.decode("utf-8", "replace"), password.decode("utf-8", "replace")
        )
        if sender is None or sender.status == "blocked" or await self._closed(sender):
            failures = self._auth_failures.add(ip, AUTH_WINDOW)
            await asyncio.sleep(min(0.25 * 2 ** (failures - 1), 8.0))  # back-off slows brute force
            return AuthResult(success=False, handled=False, message=replies.BAD_CREDENTIALS)
        return AuthResult(success=True, auth_data=sender, message=replies.AUTH_OK)

    async def _closed(self, sender: SmtpSender) -> bool:
        return self._accounts is not None and await self._accounts.is_closed(sender.account_id)

    async def _current_sender(self, session: Session) -> SmtpSender | None:
        """The authenticated user (or IP-auth entry) with its settings as they are now."""
        sender = session.auth_data
        if session.authenticated and isinstance(sender, SmtpSender):
            current = await self._users.sender(sender.username)
        else:
            current = await self._ips.sender_for_ip(_peer_ip(session))
        session.auth_data = current  # type: ignore[assignment]  # aiosmtpd types it as None
        return current

    @staticmethod
    def _sender_refusal(sender: SmtpSender) -> str:
        if sender.status == "blocked":
            return "this SMTP user is blocked"
        if not sender.sending_allowed:
            return "sending is disabled for this SMTP user"
        return ""
