"""IpAccessService against a real database: the three lookups for the doors, and their cache."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, delete, update

from postroom.clock import utcnow
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.api_keys import repo as keys_repo
from postroom.features.ip_access import service as service_module
from postroom.features.ip_access.schemas import IpAuthRequest
from postroom.features.ip_access.service import IpAccessService
from postroom.features.smtp_users.service import SmtpSender
from postroom.ids import new_account_id
from postroom.storage.tables import ip_allow_list_entries, ip_auth
from postroom.testing import FakeClock


class CountingDb:
    """The real Database, counting reads."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.reads = 0

    async def read(self, fn: Any) -> Any:
        self.reads += 1
        return await self.db.read(fn)

    async def write(self, fn: Any) -> Any:
        return await self.db.write(fn)


def _master(db: Any) -> str:
    account_id = db.read_sync(keys_repo.master_account_id)
    assert isinstance(account_id, str)
    return account_id


def _new_account(db: Any, name: str = "Other account") -> str:
    def make(conn: Connection) -> str:
        account_id = new_account_id()
        keys_repo.insert_account(conn, account_id, name, utcnow())
        return account_id

    account_id: str = db.write_sync(make)
    return account_id


async def test_sender_for_ip(db: Any) -> None:
    ips = IpAccessService(db)
    account_id = _master(db)
    assert await ips.sender_for_ip("192.0.2.10") is None
    await ips.edit_ip_auth(account_id, IpAuthRequest(ip_address="::ffff:192.0.2.10"))
    expected = SmtpSender(account_id, "Master account", "192.0.2.10", "allowed", True, None)
    assert await ips.sender_for_ip("192.0.2.10") == expected
    assert await ips.sender_for_ip("::FFFF:192.0.2.10") == expected
    assert await ips.sender_for_ip("192.0.2.11") is None
    for impossible in ("", "not an ip", "192.0.2.0/24", "192.0.2.10\0"):
        assert await ips.sender_for_ip(impossible) is None


async def test_sender_for_ip_reports_status_ratelimit_and_account(db: Any) -> None:
    ips = IpAccessService(db)
    other = _new_account(db, "Branch office")
    req = IpAuthRequest(
        ip_address="2001:DB8::7",
        status="blocked",
        custom_ratelimit=True,
        custom_ratelimit_value=20,
        custom_ratelimit_period="1 day",
    )
    await ips.edit_ip_auth(other, req)
    sender = await ips.sender_for_ip("2001:db8:0:0::7")
    assert sender == SmtpSender(other, "Branch office", "2001:db8::7", "blocked", False, (20, 86400.0))
    await ips.edit_ip_auth(
        other, IpAuthRequest(ip_address="2001:db8::7", status="sandbox"), frozenset({"status"})
    )
    sender = await ips.sender_for_ip("2001:db8::7")
    assert sender is not None and (sender.status, sender.sending_allowed, sender.ratelimit) == (
        "sandbox",
        True,
        (20, 86400.0),
    )
    await ips.remove_ip_auth(other, "2001:db8::7")
    assert await ips.sender_for_ip("2001:db8::7") is None


async def test_smtp_connection_allowed(db: Any) -> None:
    ips = IpAccessService(db)
    first, second = _master(db), _new_account(db)
    assert await ips.smtp_connection_allowed("203.0.113.5")
    await ips.add_to_allow_list(first, "smtp", "10.0.0.0/8")
    assert await ips.smtp_connection_allowed("203.0.113.5")  # listed, but the list is not enabled
    await ips.enable_allow_list(first, "smtp", True)
    assert await ips.smtp_connection_allowed("10.20.30.40")
    assert await ips.smtp_connection_allowed("::ffff:10.20.30.40")
    assert not await ips.smtp_connection_allowed("203.0.113.5")
    assert not await ips.smtp_connection_allowed("garbage")
    await ips.add_to_allow_list(second, "smtp", "203.0.113.0/24")
    assert not await ips.smtp_connection_allowed("203.0.113.5")  # the second list is not enabled
    await ips.enable_allow_list(second, "smtp", True)
    assert await ips.smtp_connection_allowed("203.0.113.5")  # in one of the enabled lists
    await ips.add_to_allow_list(first, "api", "198.51.100.0/24")
    await ips.enable_allow_list(first, "api", True)
    assert not await ips.smtp_connection_allowed("198.51.100.1")  # an api list is not an smtp list
    await ips.enable_allow_list(first, "smtp", False)
    await ips.enable_allow_list(second, "smtp", False)
    assert await ips.smtp_connection_allowed("198.51.100.1")


async def test_an_enabled_empty_smtp_list_refuses_everyone(db: Any) -> None:
    ips = IpAccessService(db)
    await ips.enable_allow_list(_new_account(db), "smtp", True)
    assert not await ips.smtp_connection_allowed("127.0.0.1")
    assert not await ips.smtp_connection_allowed("::1")


async def test_api_allowed(db: Any) -> None:
    ips = IpAccessService(db)
    first, second = _master(db), _new_account(db)
    assert await ips.api_allowed(first, "203.0.113.5")
    await ips.add_to_allow_list(first, "api", "2001:db8::/32")
    await ips.add_to_allow_list(first, "api", "192.0.2.7")
    assert await ips.api_allowed(first, "203.0.113.5")
    await ips.enable_allow_list(first, "api", True)
    assert await ips.api_allowed(first, "2001:DB8:1::5")
    assert await ips.api_allowed(first, "::ffff:192.0.2.7")
    assert not await ips.api_allowed(first, "192.0.2.8")
    assert not await ips.api_allowed(first, "")
    assert await ips.api_allowed(second, "192.0.2.8")  # another account's list is not this one's
    await ips.enable_allow_list(first, "smtp", True)
    assert await ips.api_allowed(second, "192.0.2.8")
    await ips.enable_allow_list(second, "api", True)  # enabled and empty: locked out
    assert not await ips.api_allowed(second, "192.0.2.7")
    await ips.edit_allow_list_entry(first, "api", "192.0.2.7", new_ip_address="192.0.2.0/24")
    assert await ips.api_allowed(first, "192.0.2.8")
    await ips.remove_from_allow_list(first, "api", "192.0.2.0/24")
    assert not await ips.api_allowed(first, "192.0.2.8")


async def test_lookups_are_cached_and_a_change_through_the_service_clears_the_cache(db: Any) -> None:
    counting = CountingDb(db)
    ips = IpAccessService(counting)  # type: ignore[arg-type]
    account_id = _master(db)
    await ips.edit_ip_auth(account_id, IpAuthRequest(ip_address="192.0.2.10"))
    await ips.add_to_allow_list(account_id, "api", "192.0.2.0/24")
    await ips.enable_allow_list(account_id, "api", True)
    for _ in range(3):
        assert await ips.sender_for_ip("192.0.2.10") is not None
        assert await ips.api_allowed(account_id, "192.0.2.10")
        assert await ips.smtp_connection_allowed("192.0.2.10")
    assert counting.reads == 3

    # A change made behind the service's back (another process) is not seen while cached...
    db.write_sync(lambda c: c.execute(delete(ip_auth)))
    db.write_sync(lambda c: c.execute(delete(ip_allow_list_entries)))
    assert await ips.sender_for_ip("192.0.2.10") is not None
    assert await ips.api_allowed(account_id, "192.0.2.10")
    # ...but any change made through the service clears every cached lookup.
    await ips.add_to_allow_list(account_id, "smtp", "198.51.100.0/24")
    assert await ips.sender_for_ip("192.0.2.10") is None
    assert not await ips.api_allowed(account_id, "192.0.2.10")
    assert counting.reads == 5


@pytest.mark.parametrize(
    "change",
    [
        lambda ips, a: ips.edit_ip_auth(a, IpAuthRequest(ip_address="192.0.2.10", status="blocked")),
        lambda ips, a: ips.remove_ip_auth(a, "192.0.2.10"),
        lambda ips, a: ips.enable_allow_list(a, "api", False),
        lambda ips, a: ips.add_to_allow_list(a, "api", "10.0.0.0/8"),
        lambda ips, a: ips.edit_allow_list_entry(a, "api", "192.0.2.0/24", description="x"),
        lambda ips, a: ips.remove_from_allow_list(a, "api", "192.0.2.0/24"),
    ],
)
async def test_every_change_clears_the_cache(db: Any, change: Any) -> None:
    counting = CountingDb(db)
    ips = IpAccessService(counting)  # type: ignore[arg-type]
    account_id = _master(db)
    await ips.edit_ip_auth(account_id, IpAuthRequest(ip_address="192.0.2.10"))
    await ips.add_to_allow_list(account_id, "api", "192.0.2.0/24")
    await ips.enable_allow_list(account_id, "api", True)
    await ips.sender_for_ip("192.0.2.10")
    await ips.api_allowed(account_id, "192.0.2.10")
    await ips.smtp_connection_allowed("192.0.2.10")
    assert counting.reads == 3
    await change(ips, account_id)
    await ips.sender_for_ip("192.0.2.10")
    await ips.api_allowed(account_id, "192.0.2.10")
    await ips.smtp_connection_allowed("192.0.2.10")
    assert counting.reads == 6


async def test_a_failed_change_still_leaves_the_cache_consistent(db: Any) -> None:
    ips = IpAccessService(db)
    account_id = _master(db)
    await ips.add_to_allow_list(account_id, "smtp", "10.0.0.0/8")
    with pytest.raises(Conflict):
        await ips.add_to_allow_list(account_id, "smtp", "10.0.0.0/8")
    await ips.enable_allow_list(account_id, "smtp", True)
    assert await ips.smtp_connection_allowed("10.0.0.1")


async def test_concurrent_misses_share_one_read(db: Any) -> None:
    counting = CountingDb(db)
    ips = IpAccessService(counting)  # type: ignore[arg-type]
    results = await asyncio.gather(*(ips.sender_for_ip("192.0.2.10") for _ in range(50)))
    assert results == [None] * 50 and counting.reads == 1
    allowed = await asyncio.gather(*(ips.smtp_connection_allowed("192.0.2.10") for _ in range(50)))
    assert all(allowed) and counting.reads == 2


async def test_a_stale_answer_is_served_while_one_refresh_runs(db: Any) -> None:
    clock = FakeClock()
    ips = IpAccessService(db, clock=clock)
    account_id = _master(db)
    await ips.edit_ip_auth(account_id, IpAuthRequest(ip_address="192.0.2.10"))
    assert (await ips.sender_for_ip("192.0.2.10")) is not None
    db.write_sync(lambda c: c.execute(update(ip_auth).values(status="blocked", sending_allowed=False)))
    clock.advance(service_module.CACHE_SECONDS)
    stale = await ips.sender_for_ip("192.0.2.10")
    assert stale is not None and stale.status == "allowed"  # served stale; a refresh has started
    for _ in range(100):
        await asyncio.sleep(0.01)
        sender = await ips.sender_for_ip("192.0.2.10")
        if sender is not None and sender.status == "blocked":
            return
    raise AssertionError("the refreshed entry was never served")


async def test_another_process_s_change_applies_within_the_cache_and_stale_time(db: Any) -> None:
    clock = FakeClock()
    ips = IpAccessService(db, clock=clock)
    await ips.edit_ip_auth(_master(db), IpAuthRequest(ip_address="192.0.2.10"))
    assert (await ips.sender_for_ip("192.0.2.10")) is not None
    db.write_sync(lambda c: c.execute(update(ip_auth).values(status="blocked", sending_allowed=False)))
    clock.advance(service_module.CACHE_SECONDS + service_module.STALE_SECONDS)
    sender = await ips.sender_for_ip("192.0.2.10")  # the very next lookup: no stale answer
    assert sender is not None and sender.status == "blocked"


async def test_domain_errors(db: Any) -> None:
    ips = IpAccessService(db)
    first, second = _master(db), _new_account(db)
    await ips.edit_ip_auth(first, IpAuthRequest(ip_address="192.0.2.10"))
    with pytest.raises(Conflict):
        await ips.edit_ip_auth(second, IpAuthRequest(ip_address="192.0.2.10"))
    with pytest.raises(NotFound):
        await ips.remove_ip_auth(second, "192.0.2.10")
    with pytest.raises(InvalidInput) as info:
        await ips.edit_ip_auth(first, IpAuthRequest(ip_address="192.0.2.0/24"))
    assert info.value.field == "ip_address"
    with pytest.raises(InvalidInput) as info:
        await ips.edit_allow_list_entry(first, "smtp", "10.0.0.0/8", new_ip_address="10.0.0.0/99")
    assert info.value.field == "new_ip_address"
    with pytest.raises(NotFound):
        await ips.edit_allow_list_entry(first, "smtp", "10.0.0.0/8", description="x")
    with pytest.raises(NotFound):
        await ips.remove_from_allow_list(first, "smtp", "10.0.0.0/8")
    assert await ips.sender_for_ip("192.0.2.10") is not None
