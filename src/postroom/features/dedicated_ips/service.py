"""Dedicated IP pools: listing the configured pools, and checking an `ip_pool` setting against them.

Pools are configured in settings (`ip_pools`, ids counted from 1), not through the API. Keys, SMTP
users and subaccounts name a pool by id; delivery then connects from one of its addresses
(delivery.sources). Raises InvalidInput for an `ip_pool` that is not a configured pool's id.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from postroom.errors import InvalidInput
from postroom.features.dedicated_ips.schemas import IpPoolResult
from postroom.settings import IpPool


def view(pools: Sequence[IpPool]) -> list[IpPoolResult]:
    """The configured pools, in id order ([] when none is configured)."""
    return [IpPoolResult(id=p.id, name=p.name, ip_addresses=list(p.addresses)) for p in pools]


def check_pool(value: int | None, pool_ids: Collection[int], field: str = "ip_pool") -> None:
    """InvalidInput unless `value` is None (the default address) or the id of a configured pool."""
    if value is None or value in pool_ids:
        return
    if not pool_ids:
        raise InvalidInput(
            field,
            f"The field '{field}' names IP pool {value}, but no IP pools are configured; leave it out"
            " to send from the default address",
        )
    ids = ", ".join(str(i) for i in sorted(pool_ids))
    raise InvalidInput(
        field,
        f"The field '{field}' names IP pool {value}, which is not configured: the configured pool ids"
        f" are {ids} (see /dedicated_ips/view); leave it out to send from the default address",
    )
