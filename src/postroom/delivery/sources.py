"""Which local address a delivery connects from: one of its message's dedicated IP pool's addresses.

A message records the pool id it was sent with (`messages.ip_pool`, settings.ip_pools ids). Among a
pool's addresses the choice is a stable hash of the recipient domain, so one destination keeps seeing
the same address from us (its reputation and our pooled sessions to it stay with that address) while
a pool's domains spread over all of its addresses. No pool, or a pool id that is no longer configured,
means the system's default source address ("").
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import replace

from postroom.delivery.transports.base import Job
from postroom.settings import IpPool

log = logging.getLogger(__name__)
DEFAULT = ""  # let the operating system choose the source address


class SourceAddresses:
    """The configured pools, by id; `for_job` picks the address a job connects from."""

    def __init__(self, pools: Sequence[IpPool] = ()) -> None:
        self._pools = {pool.id: pool.addresses for pool in pools}
        self._warned: set[int] = set()

    def address(self, ip_pool: int | None, domain: str) -> str:
        """The pool's address for this recipient domain; DEFAULT without a (configured) pool."""
        if ip_pool is None:
            return DEFAULT
        addresses = self._pools.get(ip_pool)
        if not addresses:
            if ip_pool not in self._warned:  # once per pool id: every message of it would say the same
                self._warned.add(ip_pool)
                log.warning(
                    "IP pool %s is not configured (settings ip_pools); its messages use the default"
                    " source address",
                    ip_pool,
                )
            return DEFAULT
        return addresses[zlib.crc32(domain.encode()) % len(addresses)]

    def for_jobs(self, jobs: list[Job]) -> list[Job]:
        """The jobs with `source_address` set from their `ip_pool` (jobs without a pool are unchanged)."""
        return [
            job if job.ip_pool is None else replace(job, source_address=self.address(job.ip_pool, job.domain))
            for job in jobs
        ]
