"""Request and response shapes of /dedicated_ips/view (reference §7.8)."""

from __future__ import annotations

from msgspec import Struct


class DedicatedIpsViewRequest(Struct):
    """No parameters."""


class IpPoolResult(Struct, kw_only=True):
    """One configured pool: its id (what `ip_pool` settings name), its name and its addresses."""

    id: int
    name: str
    ip_addresses: list[str]
