"""A dict-backed `Resolver` for tests: MX and address records given up front, failures on demand."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from postroom.delivery.dns import DnsError, order_exchanges

# The failures a name can be given, and whether each is permanent (as DnsResolver reports them).
FAILURES = {"nxdomain": True, "servfail": False, "timeout": False}


class FakeResolver:
    """Answers from dictionaries, with the ordering rules of the real resolver (`order_exchanges`).

    `mx` maps a domain to its (preference, exchange) records (use "." for a null MX); `addresses` maps
    a host to its IP addresses; `failures` maps a name to "nxdomain", "servfail" or "timeout". A domain
    without MX records but with addresses is its own implicit MX; a name in neither is NXDOMAIN.
    `lookups` records every (kind, name) asked, so a test can check what was looked up.
    """

    def __init__(
        self,
        mx: Mapping[str, Sequence[tuple[int, str]]] | None = None,
        addresses: Mapping[str, Sequence[str]] | None = None,
        failures: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.mx = {k.lower(): list(v) for k, v in (mx or {}).items()}
        self.addresses = {k.lower(): list(v) for k, v in (addresses or {}).items()}
        self.failures = {k.lower(): v for k, v in (failures or {}).items()}
        self.lookups: list[tuple[str, str]] = []
        self._rng = rng or random.Random(0)

    async def resolve_mx(self, domain: str) -> list[str]:
        self.lookups.append(("MX", domain))
        name = domain.lower()
        self._fail_if_asked(name)
        if name in self.mx:
            return order_exchanges(name, self.mx[name], self._rng)
        if name in self.addresses:
            return [name]
        raise DnsError(f"{name} does not exist (NXDOMAIN)", permanent=True)

    async def resolve_addresses(self, host: str) -> list[str]:
        self.lookups.append(("A/AAAA", host))
        name = host.lower()
        self._fail_if_asked(name)
        if self.addresses.get(name):
            return list(self.addresses[name])
        if name in self.addresses or name in self.mx:
            raise DnsError(f"{name} has no A or AAAA record", permanent=True)
        raise DnsError(f"{name} does not exist (NXDOMAIN)", permanent=True)

    def _fail_if_asked(self, name: str) -> None:
        failure = self.failures.get(name)
        if failure is not None:
            raise DnsError(f"simulated {failure} for {name}", permanent=FAILURES[failure])
