"""The SMTP listeners: submission with STARTTLS, optional implicit TLS, connection limit, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, AnyStr

from aiosmtpd.smtp import SMTP

from postroom.settings import Settings
from postroom.smtp import replies
from postroom.smtp.handler import SubmissionHandler
from postroom.smtp.tls import server_context

log = logging.getLogger(__name__)


class Sessions:
    """The open SMTP sessions of this process, for the connection limit and for shutdown."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: set[PostroomSMTP] = set()
        self.closing = False


class PostroomSMTP(SMTP):
    """aiosmtpd's protocol with enhanced status codes on its own replies, a connection limit and 421
    on shutdown."""

    def __init__(self, handler: SubmissionHandler, *, sessions: Sessions, implicit_tls: bool, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.sessions = sessions
        self.implicit_tls = implicit_tls
        self._refused = False

    async def push(self, status: AnyStr) -> None:
        await super().push(replies.translate(status) if isinstance(status, str) else status)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        if first and (self.sessions.closing or len(self.sessions.open) >= self.sessions.limit):
            self._refused = True
            reply = replies.SHUTTING_DOWN if self.sessions.closing else replies.TOO_MANY_CONNECTIONS
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(reply.format(hostname=self.hostname).encode() + b"\r\n")
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
            assert isinstance(self.transport, asyncio.WriteTransport)
            self.transport.write(replies.SHUTTING_DOWN.format(hostname=self.hostname).encode() + b"\r\n")
            self.transport.close()


class SmtpServer:
    """Starts and stops the submission listener (and the implicit-TLS one when configured)."""

    def __init__(self, settings: Settings, handler: SubmissionHandler) -> None:
        self._settings = settings
        self._handler = handler
        self._sessions = Sessions(settings.smtp_max_connections)
        self._servers: list[asyncio.Server] = []
        self.ports: list[int] = []

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
        for server in self._servers:
            server.close()
        for session in list(self._sessions.open):
            session.say_goodbye()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
