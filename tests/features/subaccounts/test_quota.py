"""A subaccount's `limit` as its monthly email quota, and /stats/email_cycle."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert, update

from conftest import RunningServer
from envelope_checks import error, ok
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
