"""An outbound SMTP session over aiosmtplib: connect, EHLO, STARTTLS, AUTH, transactions, reuse, QUIT.

A session is opened to one `Endpoint` and carries any number of transactions (RFC 5321 §3.3); each
transaction sends one message to several recipients and gives back one `Outcome` per recipient.
Problems of the session itself (a refused connection, a timeout, a failed TLS handshake, a 5xx
greeting) raise `SessionError`; everything about a recipient is an `Outcome`, never an exception.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aiosmtplib
from aiosmtplib import (
    SMTPConnectError,
    SMTPConnectTimeoutError,
    SMTPDataError,
    SMTPException,
    SMTPHeloError,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from postroom.delivery.replies import Reply, Stage, classify, is_too_many_recipients, parse
from postroom.delivery.transports.base import Outcome

log = logging.getLogger(__name__)

# none: plain text; may: STARTTLS when offered (RFC 3207), else plain; starttls: STARTTLS or fail;
# implicit: TLS from the first byte (RFC 8314 §3.3).
TlsMode = Literal["none", "may", "starttls", "implicit"]

QUIT_TIMEOUT = 5.0  # seconds to wait for the reply to QUIT before just closing
CONNECT_TIMEOUT = 30.0  # at most this long for a connection and its greeting (Postfix: smtp_connect_timeout)
MAX_IDLE_SECONDS = 30.0  # an idle pooled session older than this is closed rather than reused
MAX_SESSION_SECONDS = 300.0  # a session is not pooled again after this long (Postfix's reuse time limit)
DOWN_SECONDS = 10.0  # after a failed connection, new sessions to that destination fail at once this long
_NETWORK_ERRORS = (SMTPException, OSError, TimeoutError)
AUTH_MECHANISMS = ("plain", "login", "cram-md5")  # RFC 4616, draft-murchison-sasl-login, RFC 2195


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect. `host` names the peer (outcomes, TLS name checks); `address`, when
    given, is the IP actually connected to (an MX host's address); `source`, when given, is the local
    address the connection is made from (a dedicated IP pool's address)."""

    host: str
    port: int
    address: str = ""
    tls: TlsMode = "starttls"
    verify: bool = True
    ca_file: str = ""
    username: str = ""
    password: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        """`host:port`, or `host[address]:port` when connecting to an address of a named host, then
        ` from <source>` when a source address is set."""
        peer = f"{self.host}:{self.port}"
        if self.address and self.address != self.host:
            peer = f"{self.host}[{self.address}]:{self.port}"
        return f"{peer} from {self.source}" if self.source else peer


class SessionError(Exception):
    """The session could not be opened or went away; `reply` is the peer's answer when it gave one.

    `permanent` is true for a 5xx greeting or EHLO (RFC 5321 §3.1, §4.1.4: this host will not talk to
    us) or when the caller says so; `tls_failed` marks a failed TLS handshake (opportunistic TLS then
    retries the host in plain text).
    """

    def __init__(
        self,
        message: str,
        host: str,
        stage: Stage,
        reply: Reply | None = None,
        tls_failed: bool = False,
        permanent: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.stage = stage
        self.reply = reply
        self.tls_failed = tls_failed
        if permanent is None:
            permanent = reply is not None and reply.permanent and stage in ("connect", "ehlo")
        self.permanent = permanent

    def outcome(self) -> Outcome:
        return Outcome("bounced" if self.permanent else "deferred", self.message, self.host)


@functools.lru_cache(maxsize=32)
def tls_context(verify: bool, ca_file: str = "") -> ssl.SSLContext:
    """A client TLS context: verifying against `ca_file` (or the system CAs), or accepting any certificate."""
    if verify:
        return ssl.create_default_context(cafile=ca_file or None)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def describe(exc: BaseException, endpoint: Endpoint, stage: Stage, timeout: float) -> str:
    """A readable one-line account of a failure that is not an SMTP reply."""
    label = endpoint.label
    cause = exc.__cause__
    if isinstance(exc, SMTPConnectTimeoutError) and stage == "connect":
        return f"timed out after {timeout:g} s connecting to {label}"
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return f"timed out after {timeout:g} s waiting for {label} at {stage.upper()}"
    if isinstance(exc, ConnectionRefusedError) or isinstance(cause, ConnectionRefusedError):
        return f"connection refused by {label}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {label} failed: {getattr(exc, 'verify_message', '') or exc.reason or exc}"
    if isinstance(exc, SMTPConnectError) and isinstance(cause, OSError):
        return f"cannot connect to {label}: {cause.strerror or cause}"
    if isinstance(exc, SMTPServerDisconnected | ConnectionError):
        return f"connection to {label} lost at {stage.upper()}"
    return f"SMTP session with {label} failed at {stage.upper()}: {exc}"


def _reply(exc: SMTPResponseException) -> Reply:
    return parse(exc.code, exc.message)


class SmtpSession:
    """One open SMTP connection; `open()` connects and greets, `send()` runs transactions on it."""

    def __init__(self, endpoint: Endpoint, helo_name: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = min(timeout, CONNECT_TIMEOUT)
        implicit = endpoint.tls == "implicit"
        self._client = aiosmtplib.SMTP(
            hostname=endpoint.address or endpoint.host,
            port=endpoint.port,
            local_hostname=helo_name,
            source_address=(endpoint.source, 0) if endpoint.source else None,
            timeout=timeout,
            use_tls=implicit,
            start_tls=False,  # STARTTLS is done by hand, below, to apply the TLS mode
            tls_context=tls_context(endpoint.verify, endpoint.ca_file) if implicit else None,
        )
        self.encrypted = implicit
        self.transactions = 0
        self.opened_at = self.idle_since = time.monotonic()

    @classmethod
    async def open(cls, endpoint: Endpoint, helo_name: str, timeout: float) -> SmtpSession:
        """Connect, EHLO, STARTTLS as the TLS mode asks, AUTH when credentials are given."""
        session = cls(endpoint, helo_name, timeout)
        try:
            await session._start()
        except BaseException:
            session._client.close()
            raise
        return session

    @property
    def alive(self) -> bool:
        return self._client.is_connected

    async def _start(self) -> None:
        stage: Stage = "connect"
        try:
            await self._client.connect(timeout=self.connect_timeout)
            stage = "ehlo"
            await self._hello()
            if self.endpoint.tls in ("may", "starttls"):
                stage = "starttls"
                await self._starttls()
            if self.endpoint.username:
                stage = "auth"
                await self._login()
        except SMTPResponseException as exc:
            raise SessionError(str(_reply(exc)), self.endpoint.host, stage, _reply(exc)) from None
        except ssl.SSLError as exc:  # implicit TLS handshake
            raise self._error(exc, stage, tls_failed=True) from None
        except _NETWORK_ERRORS as exc:
            raise self._error(exc, stage) from None

    def _error(self, exc: BaseException, stage: Stage, tls_failed: bool = False) -> SessionError:
        timeout = self.connect_timeout if stage == "connect" else self.timeout
        return SessionError(
            describe(exc, self.endpoint, stage, timeout),
            self.endpoint.host,
            stage,
            tls_failed=tls_failed,
        )

    async def _hello(self) -> None:
        try:
            await self._client.ehlo()
        except SMTPHeloError as exc:
            # RFC 5321 §3.2: a server that does not know EHLO answers 500 or 502; fall back to HELO.
            if exc.code not in (500, 502) or not self.alive:
                raise
            await self._client.helo()

    async def _starttls(self) -> None:
        """RFC 3207 STARTTLS, then EHLO again (§4.2: what the server said before TLS is forgotten)."""
        endpoint = self.endpoint
        if not self._client.supports_extension("starttls"):
            if endpoint.tls == "starttls":
                raise SessionError(f"{endpoint.label} does not offer STARTTLS", endpoint.host, "starttls")
            return
        try:
            await self._client.starttls(
                server_hostname=endpoint.host, tls_context=tls_context(endpoint.verify, endpoint.ca_file)
            )
            self.encrypted = True
            await self._hello()
        except SMTPResponseException as exc:
            if self.encrypted:
                raise  # EHLO refused after TLS: a reply like any other
            if endpoint.tls == "may" and self.alive:
                return  # STARTTLS refused (454): the session is still plain text, and may goes on so
            reply = _reply(exc)
            raise SessionError(str(reply), endpoint.host, "starttls", reply, permanent=False) from None
        except (ssl.SSLError, *_NETWORK_ERRORS) as exc:  # the handshake, or the session right after it
            self._client.close()
            raise self._error(exc, "starttls", tls_failed=True) from None

    async def _login(self) -> None:
        """RFC 4954 AUTH with one mechanism (PLAIN, else LOGIN, else CRAM-MD5), so wrong credentials
        cost one failed attempt. A refusal is never permanent: it is our configuration, not the message."""
        mechanism = next((m for m in AUTH_MECHANISMS if m in self._client.server_auth_methods), "")
        if not mechanism:
            message = f"{self.endpoint.label} offers no AUTH mechanism we know, yet credentials are set"
            raise SessionError(message, self.endpoint.host, "auth")
        login = getattr(self._client, f"auth_{mechanism.replace('-', '')}")
        try:
            await login(self.endpoint.username, self.endpoint.password)
        except SMTPResponseException as exc:
            reply = _reply(exc)
            raise SessionError(str(reply), self.endpoint.host, "auth", reply, permanent=False) from None

    async def send(self, mail_from: str, recipients: Sequence[str], data: bytes) -> list[Outcome | None]:
        """One transaction: an Outcome per recipient, or None for those left for another transaction
        after the peer said it takes no more recipients in this one (RFC 5321 §4.5.3.1.10).

        Raises SessionError when the session fails before MAIL is accepted (the transaction can be
        tried again on a new session); later failures become `deferred` outcomes.
        """
        self.transactions += 1
        results: list[Outcome | None] = [None] * len(recipients)
        encoding = "ascii"
        options = self._mail_options(data)
        if not all(a.isascii() for a in (mail_from, *recipients)):
            if not self._client.supports_extension("smtputf8"):
                text = (
                    f"{self.endpoint.label} does not support SMTPUTF8 (RFC 6531), needed for these addresses"
                )
                return [Outcome("bounced", text, self.endpoint.host) for _ in recipients]
            options.append("SMTPUTF8")  # RFC 6531 §3.4
            encoding = "utf-8"
        stage: Stage = "mail"
        try:
            if not await self._mail(mail_from, options, encoding, results):
                return results
            stage = "rcpt"
            accepted = await self._recipients(recipients, encoding, results)
            if not accepted:
                await self._reset_quietly()
                return results
            stage = "data"
            reply = await self._data(data)
            for i in accepted:
                results[i] = self._outcome(reply, "data")
            return results
        except SessionError:
            raise
        except _NETWORK_ERRORS as exc:
            self._client.close()
            if stage == "mail":
                raise self._error(exc, stage) from None
            text = describe(exc, self.endpoint, stage, self.timeout)
            return [r or Outcome("deferred", text, self.endpoint.host) for r in results]

    def _mail_options(self, data: bytes) -> list[str]:
        options = []
        if self._client.supports_extension("size"):
            options.append(f"SIZE={len(data)}")  # RFC 1870 §4
        if not data.isascii() and self._client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")  # RFC 6152 §2
        return options

    async def _mail(
        self, mail_from: str, options: list[str], encoding: str, results: list[Outcome | None]
    ) -> bool:
        """MAIL FROM; on a refusal every recipient gets its outcome and False is returned."""
        try:
            await self._client.mail(mail_from, options=options, encoding=encoding)
            return True
        except SMTPSenderRefused as exc:
            reply = _reply(exc)
            if not self.alive:  # 421: the peer is closing the session (RFC 5321 §3.8)
                raise SessionError(str(reply), self.endpoint.host, "mail", reply, permanent=False) from None
            results[:] = [self._outcome(reply, "mail")] * len(results)
            await self._reset_quietly()
            return False

    async def _recipients(
        self, recipients: Sequence[str], encoding: str, results: list[Outcome | None]
    ) -> list[int]:
        """RCPT TO for each recipient; the indices accepted. A refused one gets its outcome in `results`."""
        accepted: list[int] = []
        for i, recipient in enumerate(recipients):
            try:
                await self._client.rcpt(recipient, encoding=encoding)
                accepted.append(i)
            except SMTPRecipientRefused as exc:
                reply = _reply(exc)
                if accepted and is_too_many_recipients(reply):
                    break  # this one and the rest go in the next transaction
                results[i] = self._outcome(reply, "rcpt")
        return accepted

    async def _data(self, data: bytes) -> Reply:
        """DATA and the message (aiosmtplib dot-stuffs it, RFC 5321 §4.5.2); the final reply."""
        try:
            response = await self._client.data(data)
            return parse(response.code, response.message)
        except SMTPDataError as exc:
            await self._reset_quietly()  # a refused DATA command leaves the transaction open
            return _reply(exc)

    def _outcome(self, reply: Reply, stage: Stage) -> Outcome:
        return Outcome(classify(reply, stage), str(reply), self.endpoint.host)

    async def reset(self) -> bool:
        """RSET (RFC 5321 §4.1.1.5): ends any transaction and proves the connection still answers."""
        if self.alive:
            with contextlib.suppress(*_NETWORK_ERRORS):
                await self._client.rset()
                return True
        self._client.close()
        return False

    async def _reset_quietly(self) -> None:
        if self.alive:
            with contextlib.suppress(*_NETWORK_ERRORS):
                await self._client.rset()

    def abort(self) -> None:
        """Drop the connection without a word."""
        self._client.close()

    async def close(self) -> None:
        """QUIT (RFC 5321 §4.1.1.10) when the connection is still up, then close it."""
        if self.alive:
            with contextlib.suppress(*_NETWORK_ERRORS):
                await self._client.quit(timeout=min(self.timeout, QUIT_TIMEOUT))
        self._client.close()
