"""IP access: IP auth entries and the IP allow lists, and the lookups the SMTP server and the API door make.

An IP auth entry lets one client address send over SMTP without AUTH, with an SMTP user's
settings; addresses are unique across all accounts (a connection names no account). An allow list
(one per account and type, `smtp` or `api`) holds CIDR ranges and is enforced only while enabled.

Lookups are answered from the in-process lookup cache (postroom.cache: fresh for CACHE_SECONDS,
then served for STALE_SECONDS more while one background read refreshes it); every change made
through this service clears it, and a change made by another process is seen within
CACHE_SECONDS + STALE_SECONDS.

Raises InvalidInput for an address, range or setting that fails validation, NotFound for an entry
the account does not have, and Conflict for an entry that exists already (or, for IP auth, an
address another account has).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postroom.cache import Cache
from postroom.clock import SYSTEM_CLOCK, Clock, utcnow
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.dedicated_ips.service import check_account_pool, check_pool
from postroom.features.ip_access import repo
from postroom.features.ip_access.addresses import IpNetwork, in_any, parse_ip, parse_network, shown
from postroom.features.ip_access.schemas import AllowListEntry, AllowListResult, IpAuthRequest, IpAuthResult
from postroom.features.smtp_users.profile import columns, new_values, profile_of, ratelimit_of, validated
from postroom.features.smtp_users.service import SmtpSender
from postroom.storage.database import Database

CACHE_SECONDS = 5.0
STALE_SECONDS = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class Gate:
    """What one door's allow lists let in: everything while none is enabled."""

    enabled: bool
    networks: tuple[IpNetwork, ...]

    def allows(self, ip: str) -> bool:
        if not self.enabled:
            return True
        try:
            return in_any(parse_ip(ip), self.networks)
        except ValueError:
            return False


def _address(field: str, text: str) -> str:
    try:
        return str(parse_ip(text))
    except ValueError:
        raise InvalidInput(
            field, f"The field '{field}' must be a single IPv4 or IPv6 address, but found '{text}'"
        ) from None


def _network(field: str, text: str) -> str:
    try:
        return str(parse_network(text))
    except ValueError:
        raise InvalidInput(
            field,
            f"The field '{field}' must be an IPv4 or IPv6 address or CIDR range (such as 192.0.2.0/24), "
            f"but found '{text}'",
        ) from None


# --- IP auth ---------------------------------------------------------------------------------------


def _ip_auth_result(row: dict[str, Any]) -> IpAuthResult:
    fields = msgspec.structs.asdict(profile_of(row))
    fields.update(ip_address=row["ip_address"], sending_allowed=row["sending_allowed"])
    return msgspec.convert(fields, IpAuthResult)


def _sender(row: dict[str, Any] | None) -> SmtpSender | None:
    if row is None:
        return None
    profile = profile_of(row)
    return SmtpSender(
        account_id=row["account_id"],
        account_name=row["account_name"],
        username=row["ip_address"],
        status=row["status"],
        sending_allowed=bool(row["sending_allowed"]),
        ratelimit=ratelimit_of(profile),
        ip_pool=profile.ip_pool,
        audit_email=profile.audit_email,
    )


def _taken(ip: str) -> Conflict:
    return Conflict(f"The IP address {ip} is already authenticated for another account")


def _insert_ip_auth(conn: Connection, row: dict[str, Any]) -> None:
    try:
        with conn.begin_nested():
            repo.insert_ip_auth(conn, row)
    except IntegrityError:  # added by another process between the look-up and the insert
        raise _taken(row["ip_address"]) from None


def _edit_ip_auth(
    conn: Connection,
    account_id: str,
    ip: str,
    req: IpAuthRequest,
    only: frozenset[str] | None,
    pool_ids: Collection[int],
) -> dict[str, Any]:
    row = repo.ip_auth_row(conn, ip)
    if row is not None and row["account_id"] != account_id:
        raise _taken(ip)
    check_account_pool(conn, account_id, req.ip_pool, pool_ids)  # None (also: not given) passes
    values = {**columns(validated(new_values(req, only, row))), "updated_at": utcnow()}
    if row is not None:
        repo.update_ip_auth(conn, row["id"], values)
        return {**row, **values}
    new = {"account_id": account_id, "ip_address": ip, **values, "created_at": values["updated_at"]}
    _insert_ip_auth(conn, new)
    return new


def _remove_ip_auth(conn: Connection, account_id: str, ip: str) -> dict[str, Any]:
    rows = repo.ip_auth_rows(conn, account_id, ip)
    if not rows:
        raise NotFound(f"The IP address {ip} has no IP authentication entry")
    repo.delete_ip_auth(conn, rows[0]["id"])
    return rows[0]


# --- allow lists -----------------------------------------------------------------------------------


def _entry(row: dict[str, Any]) -> AllowListEntry:
    return AllowListEntry(ip_address=shown(row["network"]), description=row["description"])


def _existing_entry(conn: Connection, account_id: str, kind: str, network: str) -> dict[str, Any]:
    row = repo.entry(conn, account_id, kind, network)
    if row is None:
        raise NotFound(f"The {kind} IP allow list has no entry {shown(network)}")
    return row


def _listed(kind: str, network: str) -> Conflict:
    return Conflict(f"The {kind} IP allow list already has an entry {shown(network)}")


def _check_free(conn: Connection, account_id: str, kind: str, network: str) -> None:
    if repo.entry(conn, account_id, kind, network) is not None:
        raise _listed(kind, network)


def _add_entry(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    _check_free(conn, row["account_id"], row["type"], row["network"])
    try:
        with conn.begin_nested():
            repo.insert_entry(conn, row)
    except IntegrityError:  # added by another process between the look-up and the insert
        raise _listed(row["type"], row["network"]) from None
    return row


def _edit_entry(
    conn: Connection, account_id: str, kind: str, network: str, new_network: str, description: str | None
) -> dict[str, Any]:
    row = _existing_entry(conn, account_id, kind, network)
    changes: dict[str, Any] = {"description": row["description"] if description is None else description}
    if new_network and new_network != network:
        _check_free(conn, account_id, kind, new_network)
        changes["network"] = new_network
    try:
        with conn.begin_nested():
            repo.update_entry(conn, row["id"], changes)
    except IntegrityError:  # the new range was added by another process meanwhile
        raise _listed(kind, new_network) from None
    return {**row, **changes}


def _remove_entry(conn: Connection, account_id: str, kind: str, network: str) -> dict[str, Any]:
    row = _existing_entry(conn, account_id, kind, network)
    repo.delete_entry(conn, row["id"])
    return row


def _list(conn: Connection, account_id: str, kind: str) -> AllowListResult:
    return AllowListResult(
        enabled=repo.list_enabled(conn, account_id, kind),
        ip_addresses=[_entry(row) for row in repo.entries(conn, account_id, kind)],
    )


def _gate(conn: Connection, kind: str, account_id: str = "") -> Gate:
    enabled, networks = repo.enabled_networks(conn, kind, account_id)
    return Gate(enabled, tuple(parse_network(n) for n in networks))


class IpAccessService:
    """The one place IP auth and allow lists are managed (API, dashboard, CLI) and consulted (SMTP, API)."""

    def __init__(self, db: Database, pool_ids: Collection[int] = (), clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._pool_ids = pool_ids  # the configured dedicated IP pools that `ip_pool` may name
        self._senders: Cache[str, SmtpSender | None] = Cache(
            self._load_sender, fresh=CACHE_SECONDS, stale=STALE_SECONDS, clock=clock, name="IP auth entry"
        )
        self._gates: Cache[tuple[str, str], Gate] = Cache(
            self._load_gate, fresh=CACHE_SECONDS, stale=STALE_SECONDS, clock=clock, name="IP allow list"
        )

    async def _change(self, fn: Callable[[Connection], T]) -> T:
        """Run a write, then forget every cached lookup (the write has committed by then)."""
        try:
            return await self._db.write(fn)
        finally:
            self._senders.forget()
            self._gates.forget()

    # --- IP auth -----------------------------------------------------------------------------------

    async def view_ip_auth(self, account_id: str, ip_address: str = "") -> list[IpAuthResult]:
        ip = _address("ip_address", ip_address) if ip_address else ""
        rows = await self._db.read(lambda conn: repo.ip_auth_rows(conn, account_id, ip))
        return [_ip_auth_result(row) for row in rows]

    async def edit_ip_auth(
        self, account_id: str, req: IpAuthRequest, only: frozenset[str] | None = None
    ) -> IpAuthResult:
        """Replace every setting (POST edit) or, with `only`, just those (PATCH edit); an address
        without an entry gets one, with the defaults for the settings not given."""
        ip = _address("ip_address", req.ip_address)
        check_pool(req.ip_pool, self._pool_ids)
        row = await self._change(lambda conn: _edit_ip_auth(conn, account_id, ip, req, only, self._pool_ids))
        return _ip_auth_result(row)

    async def remove_ip_auth(self, account_id: str, ip_address: str) -> IpAuthResult:
        ip = _address("ip_address", ip_address)
        return _ip_auth_result(await self._change(lambda conn: _remove_ip_auth(conn, account_id, ip)))

    # --- allow lists -------------------------------------------------------------------------------

    async def enable_allow_list(self, account_id: str, kind: str, enabled: bool) -> bool:
        """Turn enforcement of the account's `kind` list on or off.

        Enabling is allowed whatever the list holds, even nothing: an enabled empty list locks the
        account out of that door (every API call for `api`, including the one that would turn it
        off again; SMTP connections from addresses no enabled list holds for `smtp`).
        """
        await self._change(lambda conn: repo.set_list_enabled(conn, account_id, kind, enabled, utcnow()))
        return enabled

    async def view_allow_list(self, account_id: str, kind: str) -> AllowListResult:
        return await self._db.read(lambda conn: _list(conn, account_id, kind))

    async def add_to_allow_list(
        self, account_id: str, kind: str, ip_address: str, description: str = ""
    ) -> AllowListEntry:
        row = {
            "account_id": account_id,
            "type": kind,
            "network": _network("ip_address", ip_address),
            "description": description,
            "created_at": utcnow(),
        }
        return _entry(await self._change(lambda conn: _add_entry(conn, row)))

    async def edit_allow_list_entry(
        self,
        account_id: str,
        kind: str,
        ip_address: str,
        new_ip_address: str = "",
        description: str | None = None,
    ) -> AllowListEntry:
        """Change an entry's range and/or description; what is not given stays as it is."""
        network = _network("ip_address", ip_address)
        new_network = _network("new_ip_address", new_ip_address) if new_ip_address else ""
        row = await self._change(
            lambda conn: _edit_entry(conn, account_id, kind, network, new_network, description)
        )
        return _entry(row)

    async def remove_from_allow_list(self, account_id: str, kind: str, ip_address: str) -> AllowListEntry:
        network = _network("ip_address", ip_address)
        return _entry(await self._change(lambda conn: _remove_entry(conn, account_id, kind, network)))

    # --- lookups for the SMTP server and the API door ----------------------------------------------

    async def sender_for_ip(self, ip: str) -> SmtpSender | None:
        """The IP-auth entry for this client address as an SmtpSender whose username is the
        normalised IP, account_name the account's name; None if no entry."""
        try:
            key = str(parse_ip(ip))
        except ValueError:
            return None
        return await self._senders.get(key)

    async def smtp_connection_allowed(self, ip: str) -> bool:
        """False only when at least one account has its `smtp` allow list enabled and the IP is in
        none of the enabled lists.

        A connection names no account before AUTH, so one account's enabled `smtp` list refuses
        every address that no enabled list holds, whichever account that client belongs to.
        """
        return (await self._gates.get(("smtp", ""))).allows(ip)

    async def smtp_gate(self) -> Gate:
        """The SMTP allow lists as one snapshot the listener can check synchronously at connect."""
        return await self._gates.get(("smtp", ""))

    async def api_allowed(self, account_id: str, ip: str) -> bool:
        """True unless this account has its `api` allow list enabled and the IP is not in it."""
        return (await self._gates.get(("api", account_id))).allows(ip)

    async def _load_sender(self, ip: str) -> SmtpSender | None:
        return await self._db.read(lambda conn: _sender(repo.ip_auth_row(conn, ip)))

    async def _load_gate(self, door: tuple[str, str]) -> Gate:
        kind, account_id = door
        return await self._db.read(lambda conn: _gate(conn, kind, account_id))
