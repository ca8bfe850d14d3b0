"""The SMTP listeners: submission with STARTTLS, optional implicit TLS, connection limit, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import types
import weakref
from collections.abc import Hashable
from typing import Any, AnyStr, NamedTuple, Protocol, cast

from aiosmtpd.smtp import MISSING, SMTP, _AuthMechAttr

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


# What asyncio.StreamReaderProtocol.__init__ sets, and the introspected method tables: new for every
# connection. Everything else SMTP.__init__ sets is configuration, the same for every connection.
_PER_CONNECTION = frozenset(
    {
        "loop",
        "_loop",
        "_paused",
        "_drain_waiters",
        "_connection_lost",
        "_stream_reader_wr",
        "_source_traceback",
        "_strong_reader",
        "_reject_connection",
        "_stream_writer",
        "_task",
        "_transport",
        "_client_connected_cb",
        "_over_ssl",
        "_closed",
        "_auth_methods",
        "_smtp_methods",
        "_handle_hooks",
    }
)
_SHAREABLE = (type(None), bool, int, float, str, bytes, ssl.SSLContext, types.FunctionType)
# A reverse path or forward path that is a plain dot-atom mailbox in angle brackets: its parse by the
# email package's RFC 5322 parser is the text between the brackets (tests/smtp checks this).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


_DATA_END = b"\r\n.\r\n"  # RFC 5321 §4.1.1.4: a line holding only "." ends the mail data
NOMINAL, TOO_LONG, TOO_MUCH = "nominal", "too long", "too much"  # aiosmtpd's DATA states


class _LineCheck:
    """aiosmtpd's DATA accounting (SMTP.smtp_DATA), line by line: which limit a client broke first.

    Used once the data passed the size limit, to give the reply aiosmtpd would give. A line longer
    than the stream limit (line_length_limit + 2 bytes with its CRLF) is found too long while it is
    still arriving, before its bytes are counted; a shorter one is counted first, then measured.
    """

    def __init__(self, size_limit: int, line_limit: int) -> None:
        self.state = NOMINAL
        self._size_limit = size_limit
        self._line_limit = line_limit
        self._counted = 0  # bytes of the complete lines so far
        self._line = 0  # bytes of the line in progress
        self._cr = False  # the bytes so far end with a CR (a CRLF may straddle two pieces)

    def feed(self, data: bytes) -> None:
        if self.state != NOMINAL or not data:
            return
        if self._cr and data[:1] == b"\n":
            self._line_done(self._line + 1)
            data = data[1:]
        self._cr = False
        at = 0
        while self.state == NOMINAL:
            end = data.find(b"\r\n", at)
            if end == -1:
                self._line += len(data) - at
                self._cr = data[-1:] == b"\r"
                if self._line >= self._line_limit + 2:  # the stream limit overruns before its CRLF
                    self.state = TOO_LONG
                return
            self._line_done(self._line + end + 2 - at)
            at = end + 2

    def _line_done(self, length: int) -> None:
        self._line = 0
        if length > self._line_limit + 2:
            self.state = TOO_LONG
            return
        self._counted += length
        if self._counted > self._size_limit:
            self.state = TOO_MUCH
        elif length > self._line_limit:
            self.state = TOO_LONG


class _Template(NamedTuple):
    """What SMTP.__init__ computed for one handler and one set of options, reusable by the next
    connection: its configuration attributes and its introspected method tables. Methods are kept
    as (owner, function) and bound again for each connection, and the handler itself is not held,
    so the weakly keyed cache below lets a stopped server's handler go."""

    state: dict[str, tuple[str, Any]]
    auth: dict[str, tuple[tuple[str, Any], bool]]
    smtp: dict[str, tuple[str, Any]]
    hooks: dict[str, tuple[str, Any]]


_AS_IS, _SELF, _HANDLER = "as is", "self", "handler"


def _detach(value: Any, first: SMTP, handler: object) -> tuple[str, Any]:
    if value is handler:
        return _HANDLER, None
    if isinstance(value, types.MethodType) and value.__self__ in (first, handler):
        return (_SELF if value.__self__ is first else _HANDLER), value.__func__
    return _AS_IS, value


def _attach(entry: tuple[str, Any], smtp: SMTP, handler: object) -> Any:
    owner, value = entry
    if owner == _AS_IS:
        return value
    target = smtp if owner == _SELF else handler
    return target if value is None else types.MethodType(value, target)


def _template(first: SMTP, handler: object) -> _Template | None:
    """The template of an instance SMTP.__init__ just built; None if some attribute is not plainly
    shareable between connections (a future aiosmtpd may add one: then every connection takes the
    full __init__)."""
    state = {k: v for k, v in vars(first).items() if k not in _PER_CONNECTION}
    shareable = all(isinstance(v, _SHAREABLE) or v is handler for v in state.values())
    if not shareable or not all(isinstance(m, types.MethodType) for m in first._smtp_methods.values()):
        log.warning("aiosmtpd's SMTP state is not what Postroom expects; per-connection setup is slower")
        return None
    return _Template(
        state={k: _detach(v, first, handler) for k, v in state.items()},
        auth={k: (_detach(a.method, first, handler), a.is_builtin) for k, a in first._auth_methods.items()},
        smtp={k: _detach(m, first, handler) for k, m in first._smtp_methods.items()},
        hooks={k: _detach(m, first, handler) for k, m in first._handle_hooks.items()},
    )


# handler -> {(server class, options): template}; the first connection of each fills it
_TEMPLATES: weakref.WeakKeyDictionary[object, dict[Hashable, _Template | None]] = weakref.WeakKeyDictionary()


class PostroomSMTP(SMTP):
    """aiosmtpd's protocol with enhanced status codes on its own replies, a connection limit, 421
    on shutdown, and a cheaper start for each connection."""

    def __init__(self, handler: SubmissionHandler, *, sessions: Sessions, implicit_tls: bool, **kwargs: Any):
        # SMTP.__init__ introspects this class and the handler (inspect.getmembers, dir) on every
        # connection, which is most of its cost. The first connection runs it; later ones with the
        # same handler and options copy its configuration and bind its method tables to themselves.
        key: Hashable = (type(self), tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            key = None
        known = _TEMPLATES.setdefault(handler, {})
        template = known.get(key) if key is not None and "loop" not in kwargs else None
        if template is None or not self._init_from(template, handler):
            super().__init__(handler, **kwargs)
            if key is not None and key not in known:
                known[key] = _template(self, handler)
        self.sessions = sessions
        self.implicit_tls = implicit_tls
        self._refused = False
        self._pending: list[str] = []

    def _init_from(self, template: _Template, handler: SubmissionHandler) -> bool:
        """What SMTP.__init__ does, from a template; False (nothing done) outside a running loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self.__dict__.update({k: _attach(v, self, handler) for k, v in template.state.items()})
        self.command_size_limits.clear()  # as SMTP.__init__ does (aiosmtpd keeps it on the class)
        self.loop = loop
        asyncio.StreamReaderProtocol.__init__(
            self,
            asyncio.StreamReader(loop=loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=loop,
        )
        self._auth_methods = {
            name: _AuthMechAttr(_attach(entry, self, handler), builtin)
            for name, (entry, builtin) in template.auth.items()
        }
        self._smtp_methods = {name: _attach(entry, self, handler) for name, entry in template.smtp.items()}
        self._handle_hooks = {name: _attach(entry, self, handler) for name, entry in template.hooks.items()}
        return True

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """SMTP._getaddr, without its full RFC 5322 parse (and the class it defines on every call) for
        the common `<local@domain>` path; anything else goes to aiosmtpd's own parse."""
        match = _PLAIN_PATH.match(arg) if arg else None
        if match is None or self.local_part_limit:
            return super()._getaddr(arg)
        rest = arg[match.end() :]
        if rest[:1] in (" ", "\t"):
            rest = rest.lstrip()  # the parser takes white space after ">" as CFWS...
        if rest[:1] == "(":
            return super()._getaddr(arg)  # ...and a comment too
        return match[1], rest

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

    async def smtp_DATA(self, arg: str) -> None:
        """SMTP.smtp_DATA with the mail data read in large pieces instead of line by line.

        The same checks, replies and handler call as aiosmtpd's; the same content (dot-unstuffed,
        RFC 5321 §4.5.2); the same state when a line is too long or the data too large.
        """
        if self._decode_data or "DATA" not in self._handle_hooks:
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, state = await self._read_data()
        except asyncio.CancelledError:
            log.debug("connection lost during DATA")
            self._writer.close()
            raise
        if state != NOMINAL:
            await self.push(
                "500 Line too long (see RFC5321 4.5.3.1.6)"
                if state == TOO_LONG
                else "552 Error: Too much mail data"
            )
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        if content[:1] == b".":  # dot-unstuffing: a leading "." of every line goes
            content = content[1:]
        content = content.replace(b"\r\n.", b"\r\n")
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, str]:
        """The mail data up to the line ".", not unstuffed, and the state aiosmtpd would end in.

        readuntil(".\r\n") returns at each line that ends in "." (or raises LimitOverrunError when
        the stream limit is passed, which says how much can be taken); the data ends where the last
        five bytes read are CRLF "." CRLF, counting a CRLF before the first line. Bytes after the end
        stay in the reader for the next command. Past the size limit the data is no longer kept,
        only accounted, as aiosmtpd does.
        """
        reader = self._reader
        size_limit = self.data_size_limit or 0
        pieces: list[bytes] = []
        size = 0
        check: _LineCheck | None = None
        tail = b"\r\n"  # the last two bytes read
        while True:
            try:
                piece = await reader.readuntil(b".\r\n")
                ended = (piece[-5:] if len(piece) >= 5 else (tail + piece)[-5:]) == _DATA_END
            except asyncio.LimitOverrunError as exc:
                piece, ended = await reader.read(exc.consumed), False
            if ended:
                piece = piece[:-3]
            if check is None:
                pieces.append(piece)
                size += len(piece)
                if size_limit and size > size_limit:
                    check = _LineCheck(size_limit, self.line_length_limit)
                    check.feed(b"".join(pieces))
                    pieces.clear()
            else:
                check.feed(piece)
            if ended:
                break
            tail = (tail + piece[-2:])[-2:]
        if check is not None:
            return b"", check.state
        content = b"".join(pieces)
        longest = max(map(len, content.split(b"\r\n")))  # the lines without their CRLF
        return content, TOO_LONG if longest + 2 > self.line_length_limit else NOMINAL

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

    def options(self, context: ssl.SSLContext, implicit_tls: bool) -> dict[str, Any]:
        """aiosmtpd's SMTP options for the STARTTLS listener, or the implicit-TLS one."""
        s = self._settings
        return {
            "hostname": s.hostname,
            "ident": replies.GREETING_IDENT,
            "data_size_limit": s.smtp_max_size,
            "enable_SMTPUTF8": True,
            "decode_data": False,
            "tls_context": None if implicit_tls else context,
            "timeout": s.smtp_timeout,
            "auth_require_tls": not (implicit_tls or s.plain_auth_allowed),
        }

    def _factory(self, context: ssl.SSLContext, implicit_tls: bool) -> Any:
        options = self.options(context, implicit_tls)

        def make() -> PostroomSMTP:
            return PostroomSMTP(self._handler, sessions=self._sessions, implicit_tls=implicit_tls, **options)

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
