"""A subaccount's `limit` as its monthly email quota, and /stats/email_cycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from sqlalchemy import insert, update

from conftest import RunningServer
from envelope_checks import error, ok
from postroom.features.api_keys import repo as key_repo
from postroom.features.api_keys.identity import Principal
from postroom.features.email.schemas import SendRequest
from postroom.storage.tables import accounts, messages

MESSAGE = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "hello", "text_body": "x"}


def _set_plan(server: RunningServer, account_id: str, plan: int) -> None:
    """A plan smaller than SMTP2GO's smallest, so a test can exhaust it."""
    server.app.state.services.db.write_sync(
        lambda conn: conn.execute(update(accounts).where(accounts.c.id == account_id).values(plan_size=plan))
    )


def _key_for(server: RunningServer, account_id: str) -> str:
    from postroom.features.api_keys.service import create_key

    key: str = server.app.state.services.db.write_sync(lambda conn: create_key(conn, account_id, ["*"]))
    return key


def _batch(n: int, sub: str) -> dict[str, Any]:
    return {"emails": [MESSAGE] * n, "subaccount_id": sub}


def test_sending_stops_with_402_when_the_monthly_quota_is_used(server: RunningServer) -> None:
    sub = ok(server.post("subaccount/add", {"fullname": "Small"}))["id"]
    sub_key = _key_for(server, sub)
    _set_plan(server, sub, 3)
    ok(server.post("email/send", MESSAGE, key=sub_key))
    error(server.post("email/batch", _batch(3, sub)), 402)  # one would fit, not three
    ok(server.post("email/send", {**MESSAGE, "subaccount_id": sub}))
    ok(server.post("email/send", MESSAGE, key=sub_key))
    refused = server.post("email/send", MESSAGE, key=sub_key)
    data = error(refused, 402)
    assert "quota" in data["error"] and data["succeeded"] == 0 and data["email_id"] == ""
    error(server.post("email/send", {**MESSAGE, "subaccount_id": sub}), 402)
    cycle = ok(server.post("stats/email_cycle", {}, key=sub_key))
    assert (cycle["cycle_used"], cycle["cycle_remaining"], cycle["cycle_max"]) == (3, 0, 3)
    ok(server.post("email/send", MESSAGE))  # the master account has no quota
    ok(server.post("subaccount/edit", {"id": sub, "limit": 2000}))
    ok(server.post("email/send", MESSAGE, key=sub_key))


def test_email_cycle_is_the_calendar_month(server: RunningServer) -> None:
    sub = ok(server.post("subaccount/add", {"fullname": "Cycle", "limit": 5000}))["id"]
    ok(server.post("email/send", {**MESSAGE, "subaccount_id": sub}))
    cycle = ok(server.post("stats/email_cycle", {"subaccount_id": sub}))
    now = datetime.now(UTC)
    start = f"{now:%Y-%m}-01 00:00:00+00:00"
    end_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1)
    assert cycle == {
        "cycle_start": start,
        "cycle_end": f"{end_month:%Y-%m-%d %H:%M:%S}+00:00",
        "cycle_used": 1,
        "cycle_remaining": 4999,
        "cycle_max": 5000,
    }
    master = ok(server.post("stats/email_cycle", {}))
    assert master["cycle_used"] == 0 and master["cycle_start"] == start


def _fake_sent(server: RunningServer, account_id: str, n: int) -> None:
    """`n` messages stored this month for the account, written straight into the table."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        {
            "email_id": f"fake-{account_id}-{i}",
            "account_id": account_id,
            "username": "fake",
            "created_at": now,
            "source": "api",
            "sender": "s@example.com",
            "from_header": "s@example.com",
            "to_addrs": [],
            "cc_addrs": [],
            "bcc_addrs": [],
            "subject": "",
            "size": 0,
            "attachments": [],
            "raw": b"",
        }
        for i in range(n)
    ]
    server.app.state.services.db.write_sync(lambda conn: conn.execute(insert(messages), rows))


def test_concurrent_sends_at_the_limit_never_overshoot_it(server: RunningServer) -> None:
    sub = ok(server.post("subaccount/add", {"fullname": "Busy", "limit": 2000}))["id"]
    sub_key = _key_for(server, sub)
    _fake_sent(server, sub, 1999)

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            sends = [client.post("/v3/email/send", json={"api_key": sub_key, **MESSAGE}) for _ in range(5)]
            return await asyncio.gather(*sends)

    statuses = sorted(r.status_code for r in asyncio.run(send_all()))
    assert statuses == [200, 402, 402, 402, 402]
    cycle = ok(server.post("stats/email_cycle", {}, key=sub_key))
    assert (cycle["cycle_used"], cycle["cycle_remaining"]) == (2000, 0)


def test_two_servers_on_one_database_never_overshoot_it_together(make_server: Any) -> None:
    """Two servers (as two processes would) share nothing but the database: the binding check runs
    where the messages are stored, under a lock, so their sends together stop at the plan."""
    first, second = make_server(), make_server()
    sub = ok(first.post("subaccount/add", {"fullname": "Busy", "limit": 2000}))["id"]
    sub_key = _key_for(first, sub)
    _fake_sent(first, sub, 1997)

    async def send_all() -> list[httpx.Response]:
        clients = [httpx.AsyncClient(base_url=s.base_url, timeout=30) for s in (first, second)]
        try:
            sends = [
                clients[i % 2].post("/v3/email/send", json={"api_key": sub_key, **MESSAGE}) for i in range(10)
            ]
            return await asyncio.gather(*sends)
        finally:
            for client in clients:
                await client.aclose()

    responses = asyncio.run(send_all())
    assert sorted(r.status_code for r in responses) == [200] * 3 + [402] * 7
    refused = [r.json()["data"] for r in responses if r.status_code == 402]
    assert all("monthly email quota of 2000 emails" in str(d) for d in refused)
    cycle = ok(second.post("stats/email_cycle", {}, key=sub_key))
    assert (cycle["cycle_used"], cycle["cycle_remaining"]) == (2000, 0)


async def test_the_store_itself_refuses_messages_over_the_plan(server: RunningServer) -> None:
    """Past the early check (as a send racing another would be), a batch stores what fits."""
    services = server.app.state.services
    sub = ok(server.post("subaccount/add", {"fullname": "Batch", "limit": 2000}))["id"]
    _fake_sent(server, sub, 1998)
    master = services.db.read_sync(key_repo.master_account_id)
    principal = Principal("sub-key", sub, "Batch", ("*",), parent_id=master)
    request = msgspec.convert(MESSAGE, SendRequest)
    results = await services.email.send_batch(principal, [request] * 3, "127.0.0.1")
    assert sorted(r.succeeded for r in results) == [0, 1, 1]  # the items are stored concurrently
    [refused] = [r for r in results if not r.succeeded]
    assert "monthly email quota of 2000 emails is exhausted" in refused.failures[0]
