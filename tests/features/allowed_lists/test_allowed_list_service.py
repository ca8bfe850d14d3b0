"""AllowedListService and its policy against a real database: the rules, and what the snapshot costs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection

from postroom.clock import utcnow
from postroom.errors import InvalidInput
from postroom.features.allowed_lists import repo
from postroom.features.allowed_lists import service as service_module
from postroom.features.allowed_lists.service import AllowedListPolicy, AllowedListService
from postroom.features.api_keys import repo as keys_repo
from postroom.ids import new_account_id
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


def _new_account(db: Any) -> str:
    def make(conn: Connection) -> str:
        account_id = new_account_id()
        keys_repo.insert_account(conn, account_id, "Other account", utcnow())
        return account_id

    account_id: str = db.write_sync(make)
    return account_id


async def test_defaults_add_remove_update(db: Any) -> None:
    lists, account = AllowedListService(db), _master(db)
    assert (await lists.view_senders(account)).mode == "disabled"
    assert (await lists.view_recipients(account)).enabled is False
    added = await lists.add_senders(account, ["B@Example.com", "example.org", "b@example.com"])
    assert (added.allowed_senders, added.mode) == (["b@example.com", "example.org"], "disabled")
    again = await lists.add_senders(account, ["example.org", "c.example"])  # a listed one is no error
    assert again.allowed_senders == ["b@example.com", "example.org", "c.example"]
    removed = await lists.remove_senders(account, ["EXAMPLE.org", "never@listed.example"])
    assert removed.allowed_senders == ["b@example.com", "c.example"]
    updated = await lists.update_senders(account, ["new.example"], "blacklist")
    assert (updated.allowed_senders, updated.mode) == (["new.example"], "blacklist")
    emptied = await lists.update_senders(account, [], "whitelist")
    assert (emptied.allowed_senders, emptied.mode) == ([], "whitelist")


async def test_recipients_enabled_is_set_by_add_and_remove_only_when_given(db: Any) -> None:
    lists, account = AllowedListService(db), _master(db)
    assert (await lists.add_recipients(account, ["a@example.com"])).enabled is False
    assert (await lists.add_recipients(account, ["b.example"], enabled=True)).enabled is True
    result = await lists.remove_recipients(account, ["a@example.com"])
    assert (result.allowed_recipients, result.enabled) == (["b.example"], True)
    assert (await lists.remove_recipients(account, ["zz.example"], enabled=False)).enabled is False
    result = await lists.update_recipients(account, ["c@d.example"], enabled=True)
    assert (result.allowed_recipients, result.enabled) == (["c@d.example"], True)


async def test_a_bad_entry_changes_nothing(db: Any) -> None:
    lists, account = AllowedListService(db), _master(db)
    await lists.update_senders(account, ["ok.example"], "whitelist")
    with pytest.raises(InvalidInput) as raised:
        await lists.update_senders(account, ["fine.example", "not an entry"], "blacklist")
    assert raised.value.field == "allowed_senders"
    view = await lists.view_senders(account)
    assert (view.allowed_senders, view.mode) == (["ok.example"], "whitelist")


async def test_accounts_are_separate(db: Any) -> None:
    lists, master, other = AllowedListService(db), _master(db), _new_account(db)
    await lists.update_senders(master, ["master.example"], "whitelist")
    await lists.update_recipients(other, ["other.example"], True)
    assert (await lists.view_senders(other)).allowed_senders == []
    assert (await lists.view_recipients(master)).allowed_recipients == []
    policy = AllowedListPolicy(lists)
    assert await policy.sender_refusal(other, "x@anything.example") is None
    assert await policy.recipient_refusals(master, ["x@anything.example"]) == {}


async def test_the_policy_sees_changes_through_its_service_at_once(db: Any) -> None:
    lists = AllowedListService(db)
    policy, account = AllowedListPolicy(lists), _master(db)
    assert await policy.sender_refusal(account, "a@example.com") is None
    await lists.update_senders(account, ["ok.example"], "whitelist")  # seen at once, no waiting
    assert await policy.sender_refusal(account, "a@example.com")
    assert await policy.sender_refusal(account, "a@ok.example") is None


async def test_an_account_with_both_lists_off_costs_no_query_per_message(db: Any) -> None:
    counting = CountingDb(db)
    lists, account = AllowedListService(counting), _master(db)  # type: ignore[arg-type]
    for _ in range(200):
        snapshot = await lists.snapshot(account)
        assert snapshot.sender_refusal("a@example.com") is None
        assert snapshot.recipient_refusals(["b@example.com"]) == {}
    assert counting.reads == 1


async def test_concurrent_first_sends_share_one_read(db: Any) -> None:
    counting = CountingDb(db)
    lists, account = AllowedListService(counting), _master(db)  # type: ignore[arg-type]
    await asyncio.gather(*(lists.snapshot(account) for _ in range(50)))
    assert counting.reads == 1


async def test_a_change_by_another_process_is_seen_within_the_cache_time(db: Any) -> None:
    clock = FakeClock()
    counting = CountingDb(db)
    lists, account = AllowedListService(counting, clock=clock), _master(db)  # type: ignore[arg-type]
    assert (await lists.snapshot(account)).sender_refusal("a@example.com") is None
    db.write_sync(lambda conn: repo.set_mode(conn, account, "sender", "whitelist", utcnow()))  # elsewhere
    clock.advance(service_module.CACHE_SECONDS - 0.1)
    assert (await lists.snapshot(account)).sender_refusal("a@example.com") is None  # still the old one
    clock.advance(0.2)
    assert (await lists.snapshot(account)).sender_refusal("a@example.com")  # no stale answer served
    assert counting.reads == 2
