"""The SMTP listeners: submission with STARTTLS, optional implicit TLS, connection limit, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, AnyStr, Protocol, cast

from aiosmtpd.smtp import SMTP

from postroom.features.ip_access.service import Gate
from postroom.settings import Settings
from postroom.smtp import replies
from postroom.smtp.handler import SubmissionHandler
from postroom.smtp.tls import server_context

log = logging.getLogger(__name__)


ALLOW_LIST_REFRESH = 2.0  # seconds between reloads of the SMTP IP allow list


class AllowList(Protocol):
    async def smtp_gate(self) -> Gate: ...


class Sessions:
    """The open SMTP sessions of this process, the connection limit, and the IP allow list snapshot."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: set[PostroomSMTP] = set()
        self.closing = False
        self.gate = Gate(enabled=False, networks=())  # the SMTP allow lists, reloaded every few seconds

    def refusal(self, peer: Any) -> str:
        """The reply that refuses a new connection from peer, or "" to accept it."""
        if self.closing:
            return replies.SHUTTING_DOWN
        if len(self.open) >= self.limit:
            return replies.TOO_MANY_CONNECTIONS
        ip = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        if not self.gate.allows(ip):
            return replies.IP_NOT_ALLOWED.replace("{ip}", ip)
        return ""


class PostroomSMTP(SMTP):
    """aiosmtpd's protocol with enhanced status codes on its own replies, a connection limit and 421
    on shutdown."""

    def __init__(self, handler: SubmissionHandler, *, sessions: Sessions, implicit_tls: bool, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.sessions = sessions
        self.implicit_tls = implicit_tls
        self._refused = False
        self._pending: list[str] = []

    async def push(self, status: AnyStr) -> None:
        """Send a reply; the lines of a multi-line reply (`250-…`) go out in one write with its last line."""
        text = replies.translate(status) if isinstance(status, str) else status.decode("utf-8", "replace")
        if len(text) > 3 and text[3] == "-":
            self._pending.append(text)
            return
        if self._pending:
            text = "\r\n".join([*self._pending, text])
            self._pending.clear()
        await super().push(text)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # connection_made runs again after STARTTLS
        refusal = self.sessions.refusal(transport.get_extra_info("peername")) if first else ""
        if refusal:
            self._refused = True
            cast(
                asyncio.WriteTransport, transport
            ).write(  # uvloop's transports are not WriteTransport subclasses
                refusal.format(hostname=self.hostname).encode() + b"\r\n"
            )
            transport.close()
            return
        self.sessions.open.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self.sessions.open.discard(self)
        super().connection_lost(error)

    def say_goodbye(self) -> None:
        """Tell the client we are going away (RFC 5321 §3.8) and close."""
        if self.transport is not None and not self.transport.is_closing():
            cast(asyncio.WriteTransport, self.transport).write(
                replies.SHUTTING_DOWN.format(hostname=self.hostname).encode() + b"\r\n"
            )
            self.transport.close()


class SmtpServer:
    """Starts and stops the submission listener (and the implicit-TLS one when configured)."""

    def __init__(self, settings: Settings, handler: SubmissionHandler, allow_list: AllowList) -> None:
        self._settings = settings
        self._handler = handler
        self._allow_list = allow_list
        self._sessions = Sessions(settings.smtp_max_connections)
        self._servers: list[asyncio.Server] = []
        self._refresher: asyncio.Task[None] | None = None
        self.ports: list[int] = []

    async def refresh_allow_list(self) -> None:
        """Load the enabled SMTP allow lists now (the listener checks a snapshot at connect)."""
        self._sessions.gate = await self._allow_list.smtp_gate()

    async def _keep_refreshing(self) -> None:
        while True:
            await asyncio.sleep(ALLOW_LIST_REFRESH)
            try:
                await self.refresh_allow_list()
            except Exception:
                log.exception("reloading the SMTP IP allow list failed; keeping the previous one")

    def _factory(self, context: ssl.SSLContext, implicit_tls: bool) -> Any:
        s = self._settings

        def make() -> PostroomSMTP:
            return PostroomSMTP(
                self._handler,
                sessions=self._sessions,
                implicit_tls=implicit_tls,
                hostname=s.hostname,
                ident=replies.GREETING_IDENT,
                data_size_limit=s.smtp_max_size,
                enable_SMTPUTF8=True,
                decode_data=False,
                tls_context=None if implicit_tls else context,
                timeout=s.smtp_timeout,
                auth_require_tls=not (implicit_tls or s.plain_auth_allowed),
            )

        return make

    async def start(self) -> None:
        await self.refresh_allow_list()
        self._refresher = asyncio.create_task(self._keep_refreshing())
        loop = asyncio.get_running_loop()
        context = server_context(self._settings)
        host = self._settings.smtp_host
        server = await loop.create_server(self._factory(context, False), host, self._settings.smtp_port)
        self._servers.append(server)
        if self._settings.smtps_port:
            tls = await loop.create_server(
                self._factory(context, True), host, self._settings.smtps_port, ssl=context
            )
            self._servers.append(tls)
        self.ports = [srv.sockets[0].getsockname()[1] for srv in self._servers]
        log.info("SMTP listening on %s ports %s", host, self.ports)

    async def stop(self) -> None:
        """Stop accepting, answer 421 to open sessions, and close them."""
        self._sessions.closing = True
        if self._refresher is not None:
            self._refresher.cancel()
        for server in self._servers:
            server.close()
        for session in list(self._sessions.open):
            session.say_goodbye()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
