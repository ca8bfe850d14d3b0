"""Dedicated IP pools: listing the configured pools, and checking an `ip_pool` setting against them.

Pools are configured in settings (`ip_pools`, ids counted from 1), not through the API. Keys, SMTP
users and subaccounts name a pool by id; delivery then connects from one of its addresses
(delivery.sources).

Tenant isolation: a master account may list and assign every configured pool. A subaccount sees
only its own pool (accounts.ip_pool, which its master sets with /subaccount/edit) and may assign
only that pool or none to its keys, SMTP users and IP auth entries, so it can never send from the
pool its master gave another subaccount. The account written to decides, also when a master key
acts for a subaccount (`subaccount_id`). Raises InvalidInput (field `ip_pool`) for an `ip_pool`
that is not a configured pool's id, or not one the account may use.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Connection

from postroom.errors import InvalidInput
from postroom.features.dedicated_ips import repo
from postroom.features.dedicated_ips.schemas import IpPoolResult
from postroom.settings import IpPool


def view(pools: Sequence[IpPool]) -> list[IpPoolResult]:
    """The configured pools, in id order ([] when none is configured)."""
    return [IpPoolResult(id=p.id, name=p.name, ip_addresses=list(p.addresses)) for p in pools]


def view_for(conn: Connection, account_id: str, pools: Sequence[IpPool]) -> list[IpPoolResult]:
    """The pools the account may see: every pool for a master account, only its own pool for a
    subaccount ([] when it has none, or for an unknown account)."""
    found = repo.account_pool(conn, account_id)
    if found is not None and found[0] is None:
        return view(pools)
    own = None if found is None else found[1]
    return view([p for p in pools if own is not None and p.id == own])


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


def check_account_pool(
    conn: Connection, account_id: str, value: int | None, pool_ids: Collection[int], field: str = "ip_pool"
) -> None:
    """check_pool, and for a subaccount also InvalidInput unless `value` is None or its own pool.

    Call it inside the transaction that writes the setting, so it sees the account's current pool.
    An unknown account is treated as a subaccount without a pool (it may name none).
    """
    check_pool(value, pool_ids, field)
    if value is None:
        return
    found = repo.account_pool(conn, account_id)
    if found is not None and found[0] is None:
        return  # a master account: any configured pool
    own = None if found is None else found[1]
    if value == own:
        return
    if own is None:
        raise InvalidInput(
            field,
            f"The field '{field}' names IP pool {value}, but this subaccount has no dedicated IP pool, so"
            " it may only leave it out (null) to send from the default address; its master account"
            " assigns a subaccount's pool with /subaccount/edit",
        )
    raise InvalidInput(
        field,
        f"The field '{field}' names IP pool {value}, which this subaccount may not use: it may only name"
        f" its own pool {own} (see /dedicated_ips/view), or leave it out (null) to use its account's pool",
    )
