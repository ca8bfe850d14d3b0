"""Domain names and their parts, the record checks, and periodic re-verification against a real database.

The checks run here against a small resolver of dictionaries (the RecordResolver seam); the same
checks against a real DNS server are in test_domains_verify.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from postroom.clock import utcnow
from postroom.delivery.dns import DnsError
from postroom.errors import InvalidInput
from postroom.features.api_keys import repo as keys_repo
from postroom.features.domains import verify
from postroom.features.domains.names import normalize_subdomain, split_domain
from postroom.features.domains.records import Check, Targets
from postroom.features.domains.service import DomainRecord, NewDomain, insert_domain, new_domain
from postroom.scheduler import domain_reverify
from postroom.scheduler.runner import Scheduler
from postroom.settings import Settings
from postroom.storage.tables import sender_domains
from postroom.testing import FakeClock

TARGETS = Targets("bounces.postroom.test", "mail.postroom.test")


class Records:
    """A RecordResolver answering from dictionaries; a name in `failing` raises a temporary DnsError."""

    def __init__(self, txt: dict[str, list[str]] | None = None, cname: dict[str, str] | None = None) -> None:
        self.txt = txt or {}
        self.cname = cname or {}
        self.failing: set[str] = set()
        self.asked: list[str] = []

    async def resolve_txt(self, name: str) -> list[str]:
        self._ask(name)
        return self.txt.get(name, [])

    async def resolve_cname(self, name: str) -> str:
        self._ask(name)
        return self.cname.get(name, "")

    def _ask(self, name: str) -> None:
        self.asked.append(name)
        if name in self.failing:
            raise DnsError(f"DNS lookup for {name} timed out", permanent=False)


def published(new: NewDomain) -> Records:
    return Records(
        txt={f"{new.selector}._domainkey.{new.domain}": [f"v=DKIM1; k=rsa; p={new.key.public_b64}"]},
        cname={f"em.{new.domain}": TARGETS.return_path, f"link.{new.domain}": TARGETS.tracking},
    )


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("example.com", ("", "example", "com")),
        ("mail.example.com", ("mail", "example", "com")),
        ("a.b.example.co.uk", ("a.b.example", "co", "uk")),  # the heuristic's known limit
        ("xn--bcher-kva.example", ("", "xn--bcher-kva", "example")),
    ],
)
def test_split_domain_takes_the_last_two_labels(name: str, parts: tuple[str, str, str]) -> None:
    assert split_domain(name) == parts


def test_subdomains_are_names_of_up_to_63_characters() -> None:
    assert normalize_subdomain(" Link ", "f") == "link"
    assert normalize_subdomain("T.Mail.", "f") == "t.mail"
    assert normalize_subdomain("Bücher", "f") == "xn--bcher-kva"
    for bad in ("", "-x", "a_b", "a..b", "a" * 64, ("a" * 30 + ".") * 2 + "abc"):
        with pytest.raises(InvalidInput) as caught:
            normalize_subdomain(bad, "tracking_subdomain")
        assert caught.value.field == "tracking_subdomain"


@pytest.mark.parametrize(
    ("txt", "key"),
    [
        ("v=DKIM1; k=rsa; p=ABC", "ABC"),
        ("v=DKIM1;k=rsa;p= AB C ;t=s", "ABC"),  # whitespace inside the tag is ignored (RFC 6376 §3.6.1)
        ("p=", ""),  # a revoked key
        ("v=spf1 -all", None),
    ],
)
def test_dkim_key_of(txt: str, key: str | None) -> None:
    assert verify.dkim_key_of(txt) == key


async def test_each_check_says_what_it_found() -> None:
    records = Records(
        txt={"s._domainkey.x.test": ["v=spf1 -all", "v=DKIM1; p=OTHER"], "t._domainkey.x.test": ["v=spf1"]},
        cname={"em.x.test": "elsewhere.test"},
    )
    records.failing.add("link.x.test")
    assert await verify.check_dkim(records, "s._domainkey.x.test", "OTHER") == Check(True, "")
    assert not (await verify.check_dkim(records, "s._domainkey.x.test", "MINE")).verified
    assert (await verify.check_dkim(records, "t._domainkey.x.test", "MINE")).status == (
        "the TXT record at t._domainkey.x.test is not a DKIM key record (it has no p= tag)"
    )
    assert await verify.check_cname(records, "em.x.test", "elsewhere.test") == Check(True, "")
    assert await verify.check_cname(records, "link.x.test", "a.test") == Check(
        False, "DNS lookup for link.x.test timed out"
    )


async def test_reverify_due_checks_pending_domains_and_stores_the_outcome(db: Any) -> None:
    account_id = db.read_sync(keys_repo.master_account_id)
    ready, pending = new_domain("ready.test"), new_domain("pending.test")
    for new in (ready, pending):
        db.write_sync(lambda c, new=new: insert_domain(c, account_id, new))
    records = published(ready)
    assert await verify.reverify_due(db, records, timedelta(0), TARGETS) == 2
    rows = {r.domain: r for r in db.read_sync(lambda c: c.execute(select(sender_domains)).all())}
    assert (rows["ready.test"].dkim_verified, rows["ready.test"].rpath_verified) == (True, True)
    assert rows["ready.test"].tracking_verified and rows["ready.test"].verified_at is not None
    assert (
        rows["pending.test"].dkim_status
        == f"no TXT record found at {pending.selector}._domainkey.pending.test"
    )
    assert not rows["pending.test"].rpath_verified and rows["pending.test"].verified_at is not None

    records.asked.clear()  # verified domains are not asked again; a recently checked one waits its turn
    assert await verify.reverify_due(db, records, timedelta(minutes=7), TARGETS) == 0
    assert await verify.reverify_due(db, records, timedelta(0), TARGETS) == 1
    assert all(name.endswith("pending.test") for name in records.asked)


async def test_results_are_dropped_when_a_subdomain_changed_during_the_lookups(db: Any) -> None:
    account_id = db.read_sync(keys_repo.master_account_id)
    new = new_domain("moving.test")
    record: DomainRecord = db.write_sync(lambda c: insert_domain(c, account_id, new))
    db.write_sync(
        lambda c: c.execute(
            sender_domains.update().where(sender_domains.c.id == record.id).values(tracking_subdomain="t")
        )
    )
    result = await verify.verify(db, published(new), record, TARGETS)
    assert result == record
    row = db.read_sync(lambda c: c.execute(select(sender_domains)).one())
    assert row.verified_at is None and not row.dkim_verified


async def test_the_scheduler_re_verifies_pending_domains_every_seven_minutes(db: Any) -> None:
    account_id = db.read_sync(keys_repo.master_account_id)
    new = new_domain("later.test")
    db.write_sync(lambda c: insert_domain(c, account_id, new))
    records = Records()
    settings = Settings(hostname="mail.postroom.test", return_path_domain="bounces.postroom.test")
    clock = FakeClock(utcnow())
    scheduler = Scheduler(
        db, [domain_reverify.task(db, settings, resolver=records, clock=clock)], clock=clock
    )
    assert await scheduler.step() == [] and records.asked == []  # not at start: no burst after a restart
    clock.advance(7 * 60)
    assert await scheduler.step() == ["domain_reverify"] and len(records.asked) == 3
    records.txt, records.cname = published(new).txt, published(new).cname
    clock.advance(6 * 60)
    assert await scheduler.step() == []
    clock.advance(60)
    assert await scheduler.step() == ["domain_reverify"]
    row = db.read_sync(lambda c: c.execute(select(sender_domains)).one())
    assert row.dkim_verified and row.rpath_verified and row.tracking_verified and row.dkim_status == ""


async def test_a_failing_round_is_logged_and_the_next_one_runs(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def read(self, fn: Any) -> Any:
            raise RuntimeError("database away")

    clock = FakeClock(utcnow())
    task = domain_reverify.task(Broken(), Settings(), resolver=Records())  # type: ignore[arg-type]
    scheduler = Scheduler(db, [task], clock=clock)
    await scheduler.step()
    clock.advance(7 * 60)
    assert await scheduler.step() == ["domain_reverify"]
    assert "periodic task domain_reverify failed" in caplog.text
    clock.advance(7 * 60)
    assert await scheduler.step() == ["domain_reverify"]


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
