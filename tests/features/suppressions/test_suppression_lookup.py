"""The batched suppression lookup of the SMTP door: concurrent questions, each answered rightly, and
each answer read after its question (an entry removed before asking is never reported)."""

from __future__ import annotations

import asyncio
from typing import Any

from postroom.clock import utcnow
from postroom.features.api_keys.service import ensure_master_account
from postroom.features.suppressions import repo
from postroom.features.suppressions.lookup import SuppressedLookup


def test_concurrent_lookups_of_several_accounts_are_each_answered(db: Any) -> None:
    account = db.write_sync(ensure_master_account)
    rows = [repo.row(account, "blocked.example", "manual", "", None, utcnow())]
    rows.append(repo.row(account, "ann@example.com", "bounce", "550", None, utcnow()))
    db.write_sync(lambda c: repo.add_many(c, rows))
    lookup = SuppressedLookup(db)

    async def ask() -> list[set[str]]:
        questions = [
            (account, ["x@Sub.Blocked.example", "ok@example.com"]),
            (account, ["Ann@example.com"]),
            (account, ["bob@example.com"]),
            ("another-account", ["ann@example.com", "x@blocked.example"]),
        ] * 25
        return await asyncio.gather(*(lookup.suppressed(a, addrs) for a, addrs in questions))

    answers = asyncio.run(ask())
    assert answers[:4] == [{"x@sub.blocked.example"}, {"ann@example.com"}, set(), set()]
    assert answers == answers[:4] * 25


def test_a_removal_before_asking_is_seen(db: Any) -> None:
    account = db.write_sync(ensure_master_account)
    db.write_sync(
        lambda c: repo.add_many(c, [repo.row(account, "ann@example.com", "manual", "", None, utcnow())])
    )
    lookup = SuppressedLookup(db)

    async def ask_remove_ask() -> tuple[set[str], set[str]]:
        before = await lookup.suppressed(account, ["ann@example.com"])
        await db.write(lambda c: repo.remove(c, account, "ann@example.com", ["manual"]))
        return before, await lookup.suppressed(account, ["ann@example.com"])

    assert asyncio.run(ask_remove_ask()) == ({"ann@example.com"}, set())
