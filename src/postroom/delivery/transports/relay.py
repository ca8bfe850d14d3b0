"""Relay mode: every message goes to one smarthost (`relay_url`), over a small pool of reused sessions.

TLS follows the URL's `tls`: `starttls` requires STARTTLS (a smarthost that does not offer it defers
the mail rather than send it, and the credentials, in clear), `implicit` is TLS from the first byte
(RFC 8314), `none` is plain text. The smarthost's certificate is always verified, against
`tls_ca_file` when it is set, else the system's CAs: a relay is one configured host, so a smarthost
with a private or self-signed certificate is trusted by naming its certificate (or CA) in
`tls_ca_file`, never by turning verification off. `tls=none` remains for a trusted local network.
AUTH is used when the URL has credentials; a refused AUTH defers (our configuration is wrong, not
the message). Jobs with a source address (a dedicated IP pool's) connect from it: idle sessions and
the memory of a failed connection are kept per source address, so a session opened from one address
never carries a message that must leave from another.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from postroom.delivery.relay_url import RelayTarget, parse_relay_url
from postroom.delivery.sessions import (
    FailureMemory,
    SessionPool,
    TransactionRunner,
    deliver_grouped,
    group_transactions,
)
from postroom.delivery.smtp_client import (
    Endpoint,
    SmtpSession,
    TlsMode,
)
from postroom.delivery.transports.base import Job, Outcome
from postroom.settings import Settings

TLS_MODES: dict[str, TlsMode] = {"starttls": "starttls", "implicit": "implicit", "none": "none"}


@dataclass
class Route:
    """The smarthost as reached from one source address: its idle sessions and its last failure."""

    endpoint: Endpoint
    pool: SessionPool
    failures: FailureMemory = field(default_factory=FailureMemory)


class RelayTransport:
    """Hands every job to one smarthost; up to `max_connections` sessions at once, kept open between calls."""

    name = "relay"
    needs_content = True

    def __init__(
        self,
        target: RelayTarget,
        *,
        helo_name: str = "localhost",
        timeout: float = 60.0,
        ca_file: str = "",
        max_connections: int = 10,
        max_recipients: int = 50,
    ) -> None:
        self.endpoint = Endpoint(
            host=target.host,
            port=target.port,
            tls=TLS_MODES[target.tls],
            verify=True,
            ca_file=ca_file,
            username=target.username,
            password=target.password,
        )
        self._helo_name = helo_name
        self._timeout = timeout
        self._max_connections = max_connections
        self._max_recipients = max_recipients
        self._routes: dict[str, Route] = {}  # by source address ("": the default)
        self._slots = asyncio.Semaphore(max_connections)  # sessions at once, over every source address

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayTransport:
        return cls(
            parse_relay_url(settings.relay_url),
            helo_name=settings.hostname,
            timeout=settings.delivery_timeout,
            ca_file=settings.tls_ca_file,
            max_connections=settings.mx_concurrency,
            max_recipients=settings.max_recipients_per_transaction,
        )

    async def deliver(self, jobs: list[Job]) -> list[Outcome]:
        if not jobs:
            return []
        return await deliver_grouped(jobs, lambda job: job.source_address, self._deliver_from)

    async def _deliver_from(self, source: str, jobs: list[Job]) -> list[Outcome]:
        route = self._route(source)

        async def connect() -> SmtpSession:
            return await route.failures.connect(
                lambda: SmtpSession.open(route.endpoint, self._helo_name, self._timeout)
            )

        runner = TransactionRunner(jobs, route.pool, connect)
        transactions = group_transactions(jobs, self._max_recipients)
        return await runner.run(transactions, self._max_connections, self._slots)

    def _route(self, source: str) -> Route:
        route = self._routes.get(source)
        if route is None:
            endpoint = replace(self.endpoint, source=source)
            route = self._routes[source] = Route(endpoint, SessionPool(self._max_connections))
        return route

    async def close(self) -> None:
        routes, self._routes = self._routes, {}
        for route in routes.values():
            await route.pool.close()
