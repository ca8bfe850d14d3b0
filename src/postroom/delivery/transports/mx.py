"""Direct delivery: each recipient domain's MX hosts are looked up and contacted on `mx_port`.

Hosts are tried in MX order (RFC 5321 §5.1), each host's addresses in turn: a refused connection, a
timeout or a 4xx/5xx greeting or EHLO moves on to the next. When every host failed the jobs are
deferred with the last error, or bounced when every host refused with a 5xx or has no address.
TLS per domain (`tls_policy`): `may` uses STARTTLS when offered without checking the certificate and,
if the handshake fails, retries that host in plain text (opportunistic security, RFC 7435); `encrypt`
requires STARTTLS (no certificate check); `verify` requires STARTTLS and a certificate valid for the
MX host name (system CAs, or `tls_ca_file`); `none` never uses STARTTLS.
Domains are delivered concurrently; each has at most `concurrency` sessions at once, an optional
rate (`rate` messages a minute) and its own pool of idle sessions for the next call. Jobs with a
source address (a dedicated IP pool's) connect from it, to the MX addresses of its family only; a
domain reached from several source addresses is one destination per address (sessions, limits and
failures apart), so a session opened from one address never carries another address's mail.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from postroom.delivery.dns import DnsError, DnsResolver, Resolver
from postroom.delivery.sessions import (
    FailureMemory,
    SessionPool,
    TransactionRunner,
    deliver_grouped,
    group_transactions,
)
from postroom.delivery.smtp_client import (
    Endpoint,
    SessionError,
    SmtpSession,
    TlsMode,
)
from postroom.delivery.transports.base import Job, Outcome
from postroom.settings import Settings

TLS_MODES: dict[str, TlsMode] = {"none": "none", "may": "may", "encrypt": "starttls", "verify": "starttls"}
MAX_ADDRESSES = (
    5  # connection attempts per domain and call, over all MX hosts (Postfix's smtp_mx_address_limit)
)
MAX_RATE_WAIT = 10.0  # seconds a message may wait for the domain's rate; beyond that it is deferred


def _family(address: str) -> int:
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return 0


def reachable(addresses: list[str], source: str) -> list[str]:
    """The addresses a connection from `source` can reach: those of its IP version (all without one)."""
    if not source:
        return addresses
    family = _family(source)
    return [a for a in addresses if _family(a) == family]


class RatePacer:
    """`per_minute` messages a minute: a token bucket of that size, refilled evenly over the minute."""

    def __init__(self, domain: str, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.domain = domain
        self.per_minute = per_minute
        self._clock = clock
        self._tokens = float(per_minute)
        self._updated = clock()

    @property
    def full(self) -> bool:
        self._refill()
        return self._tokens >= self.per_minute

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.per_minute, self._tokens + (now - self._updated) * self.per_minute / 60)
        self._updated = now

    async def __call__(self) -> Outcome | None:
        """Wait for the next slot (a few seconds at most), or the `deferred` outcome when it is too far."""
        self._refill()
        wait = max(0.0, (1 - self._tokens) * 60 / self.per_minute)
        if wait > MAX_RATE_WAIT:
            text = f"rate limit of {self.per_minute} messages a minute to {self.domain} reached"
            return Outcome("deferred", text, self.domain)
        self._tokens -= 1
        if wait:
            await asyncio.sleep(wait)
        return None


@dataclass
class Destination:
    """What persists for one recipient domain between calls: idle sessions, the session limit, the rate."""

    pool: SessionPool
    slots: asyncio.Semaphore
    pacer: RatePacer | None
    failures: FailureMemory = field(default_factory=FailureMemory)
    users: int = 0

    @property
    def idle(self) -> bool:
        busy = self.users or len(self.pool) or self.failures.active
        return not busy and (self.pacer is None or self.pacer.full)


class MxTransport:
    """Delivers each job to the MX hosts of its recipient's domain."""

    name = "mx"
    needs_content = True

    def __init__(
        self,
        resolver: Resolver,
        *,
        helo_name: str = "localhost",
        port: int = 25,
        tls_policy: Callable[[str], str] = lambda domain: "may",
        ca_file: str = "",
        timeout: float = 60.0,
        concurrency: int = 10,
        rate: int = 0,
        max_recipients: int = 50,
    ) -> None:
        self.resolver = resolver
        self._helo_name = helo_name
        self._port = port
        self._tls_policy = tls_policy
        self._ca_file = ca_file
        self._timeout = timeout
        self._concurrency = concurrency
        self._rate = rate
        self._max_recipients = max_recipients
        self._destinations: dict[tuple[str, str], Destination] = {}  # by (domain, source address)

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver | None = None) -> MxTransport:
        return cls(
            resolver or DnsResolver(settings.nameservers or None, timeout=min(settings.delivery_timeout, 30)),
            helo_name=settings.hostname,
            port=settings.mx_port,
            tls_policy=settings.tls_policy_for,
            ca_file=settings.tls_ca_file,
            timeout=settings.delivery_timeout,
            concurrency=settings.mx_concurrency,
            rate=settings.mx_rate,
            max_recipients=settings.max_recipients_per_transaction,
        )

    async def deliver(self, jobs: list[Job]) -> list[Outcome]:
        return await deliver_grouped(jobs, lambda job: (job.domain, job.source_address), self._deliver_domain)

    async def _deliver_domain(self, key: tuple[str, str], jobs: list[Job]) -> list[Outcome]:
        domain, source = key
        try:
            hosts = await self.resolver.resolve_mx(domain)
        except DnsError as exc:
            return [Outcome("bounced" if exc.permanent else "deferred", exc.message, domain)] * len(jobs)
        destination = self._destination(key)
        destination.users += 1
        try:

            async def connect() -> SmtpSession:
                return await destination.failures.connect(lambda: self._connect(domain, hosts, source))

            runner = TransactionRunner(jobs, destination.pool, connect, destination.pacer)
            transactions = group_transactions(jobs, self._max_recipients)
            return await runner.run(transactions, self._concurrency, destination.slots)
        finally:
            destination.users -= 1
            self._forget_idle()

    def _destination(self, key: tuple[str, str]) -> Destination:
        destination = self._destinations.get(key)
        if destination is None:
            pacer = RatePacer(key[0], self._rate) if self._rate else None
            destination = Destination(
                SessionPool(self._concurrency), asyncio.Semaphore(self._concurrency), pacer
            )
            self._destinations[key] = destination
        return destination

    def _forget_idle(self) -> None:
        for key in [k for k, dest in self._destinations.items() if dest.idle]:
            del self._destinations[key]

    async def _connect(self, domain: str, hosts: list[str], source: str = "") -> SmtpSession:
        """A session with the first MX host that takes one, in order; SessionError when none does."""
        policy = self._tls_policy(domain)
        errors: list[SessionError] = []
        for host in hosts:
            if len(errors) >= MAX_ADDRESSES:
                break
            try:
                addresses = reachable(await self.resolver.resolve_addresses(host), source)
            except DnsError as exc:
                errors.append(SessionError(exc.message, host, "connect", permanent=exc.permanent))
                continue
            if not addresses:
                message = f"no address of {host} is of the family of the source address {source}"
                errors.append(SessionError(message, host, "connect"))
                continue
            for address in addresses:
                if len(errors) >= MAX_ADDRESSES:
                    break
                try:
                    return await self._open(Endpoint(host, self._port, address, source=source), policy)
                except SessionError as exc:
                    errors.append(exc)
                    if exc.reply is not None:
                        break  # the host answered and refused: its other addresses would say the same
        if not errors:
            raise SessionError(f"no MX host of {domain} has an address", domain, "connect", permanent=True)
        last = errors[-1]
        permanent = all(e.permanent for e in errors)
        raise SessionError(last.message, last.host, last.stage, last.reply, permanent=permanent)

    async def _open(self, endpoint: Endpoint, policy: str) -> SmtpSession:
        endpoint = replace(endpoint, tls=TLS_MODES[policy], verify=policy == "verify", ca_file=self._ca_file)
        try:
            return await SmtpSession.open(endpoint, self._helo_name, self._timeout)
        except SessionError as exc:
            if not (exc.tls_failed and policy == "may"):
                raise
        # RFC 7435 §3: opportunistic TLS that fails falls back to a plain-text session with the same host.
        return await SmtpSession.open(replace(endpoint, tls="none"), self._helo_name, self._timeout)

    async def close(self) -> None:
        destinations, self._destinations = self._destinations, {}
        for destination in destinations.values():
            await destination.pool.close()
