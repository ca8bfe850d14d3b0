"""DNS lookups: MX and addresses for direct delivery (`Resolver`), TXT and CNAME for domain checks.

`resolve_mx(domain)` gives the hosts to try, in order (RFC 5321 §5.1): MX records by preference, those
of equal preference shuffled; the domain itself when it has no MX record (the "implicit MX"). A null
MX (RFC 7505) and a domain that does not exist are permanent failures; a server failure or a timeout
is temporary. Failures are raised as `DnsError`; the fake beside it is `postroom.testing.FakeResolver`.

`resolve_txt(name)` and `resolve_cname(name)` (the `RecordResolver` seam, used to verify sender
domains) answer "none" for a name without such a record or that does not exist, and raise DnsError
only when no answer came (SERVFAIL, REFUSED, timeout).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from typing import Any, Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from postroom.delivery.replies import NULL_MX

DEFAULT_TIMEOUT = 10.0  # seconds for one lookup, all nameservers and retries included


class DnsError(Exception):
    """A lookup that gives no host: `permanent` ones bounce the mail, the others defer it."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class NoSuchName(DnsError):
    """NXDOMAIN: the name does not exist (RFC 8020), always permanent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class Resolver(Protocol):
    async def resolve_mx(self, domain: str) -> list[str]:
        """The hosts to try for mail to `domain`, best first; raises DnsError."""
        ...

    async def resolve_addresses(self, host: str) -> list[str]:
        """The IPv4 then IPv6 addresses of `host`; raises DnsError when it has none."""
        ...


class RecordResolver(Protocol):
    async def resolve_txt(self, name: str) -> list[str]:
        """Each TXT record at `name`, its strings joined (RFC 6376 §3.6.2.2); [] when there is none."""
        ...

    async def resolve_cname(self, name: str) -> str:
        """The target of the CNAME at `name` (lower case, no final dot); "" when there is none."""
        ...


def order_exchanges(domain: str, records: Iterable[tuple[int, str]], rng: random.Random) -> list[str]:
    """MX (preference, exchange) records → the hosts to try (RFC 5321 §5.1), or DnsError for a null MX.

    Lower preference first; hosts of equal preference in random order, "to spread the load" (§5.1).
    A null MX ("." as the exchange, RFC 7505 §3) alone means the domain accepts no mail; mixed with
    other records it is ignored (RFC 7505 §3: a domain with a null MX "MUST NOT" publish others).
    """
    by_preference: dict[int, list[str]] = {}
    null = False
    for preference, exchange in records:
        host = exchange.rstrip(".").lower()
        if not host:
            null = True
            continue
        group = by_preference.setdefault(preference, [])
        if host not in group:
            group.append(host)
    if not by_preference:
        if null:
            raise DnsError(f"{NULL_MX}: {domain} accepts no mail (RFC 7505)", permanent=True)
        raise DnsError(f"{domain} has no usable MX record", permanent=True)
    hosts: list[str] = []
    for preference in sorted(by_preference):
        group = by_preference[preference]
        rng.shuffle(group)
        for host in group:
            if host not in hosts:  # a host listed at two preferences is tried at the better one only
                hosts.append(host)
    return hosts


class DnsResolver:
    """dnspython's async resolver, on the given (address, port) nameservers or the system's ones."""

    def __init__(
        self,
        nameservers: list[tuple[str, int]] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        rng: random.Random | None = None,
        cache: bool = True,
    ) -> None:
        """`cache=False` asks every time: what checking newly published records needs."""
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = [dns.nameserver.Do53Nameserver(a, p) for a, p in nameservers]
        self._resolver.lifetime = timeout
        if cache:
            self._resolver.cache = dns.resolver.LRUCache()
        self._rng = rng or random.SystemRandom()

    async def resolve_mx(self, domain: str) -> list[str]:
        try:
            answer = await self._query(domain, "MX")
        except dns.resolver.NoAnswer:
            return [domain.lower()]  # RFC 5321 §5.1: no MX → the domain itself is the implicit MX
        records = [(int(r.preference), r.exchange.to_text()) for r in answer]
        return order_exchanges(domain, records, self._rng)

    async def resolve_addresses(self, host: str) -> list[str]:
        results = await asyncio.gather(
            self._addresses(host, "A"), self._addresses(host, "AAAA"), return_exceptions=True
        )
        addresses = [a for r in results if isinstance(r, list) for a in r]
        if addresses:
            return addresses
        errors = [r for r in results if isinstance(r, DnsError)]
        for error in errors:
            if not error.permanent:
                raise error
        if errors:
            raise errors[0]
        raise DnsError(f"{host} has no A or AAAA record", permanent=True)

    async def _addresses(self, host: str, rdtype: str) -> list[str]:
        try:
            answer = await self._query(host, rdtype)
        except dns.resolver.NoAnswer:
            return []
        return [r.to_text() for r in answer]

    async def resolve_txt(self, name: str) -> list[str]:
        records = await self._records(name, "TXT")
        return [b"".join(r.strings).decode("ascii", "replace") for r in records]

    async def resolve_cname(self, name: str) -> str:
        records = await self._records(name, "CNAME")
        return str(records[0].target.to_text()).rstrip(".").lower() if records else ""

    async def _records(self, name: str, rdtype: str) -> list[Any]:
        """The records of one type at `name`; [] when the name has none or does not exist."""
        try:
            return list(await self._query(name, rdtype))
        except (dns.resolver.NoAnswer, NoSuchName):
            return []

    async def _query(self, name: str, rdtype: str) -> dns.resolver.Answer:
        """One lookup; DnsError for anything but an answer or NoAnswer (the name exists, no such record)."""
        try:
            qname = dns.name.from_text(name)
            return await self._resolver.resolve(qname, rdtype, search=False)
        except dns.resolver.NoAnswer:
            raise
        except dns.resolver.NXDOMAIN:
            raise NoSuchName(f"{name} does not exist (NXDOMAIN)") from None
        except dns.resolver.LifetimeTimeout:
            raise DnsError(f"DNS lookup of {rdtype} for {name} timed out", permanent=False) from None
        except dns.resolver.NoNameservers:
            raise DnsError(
                f"no DNS server answered the {rdtype} lookup for {name} (SERVFAIL or REFUSED)", False
            ) from None
        except (dns.name.LabelTooLong, dns.name.EmptyLabel, dns.name.NameTooLong, dns.name.IDNAException):
            raise DnsError(f"{name!r} is not a valid domain name", permanent=True) from None
        except dns.exception.DNSException as exc:
            raise DnsError(f"DNS lookup of {rdtype} for {name} failed: {exc}", permanent=False) from None
