"""/stats/*: a known mix of outcomes (simulator recipients, a suppressed address, an unsubscribe) and
every figure of every endpoint checked against it; bad input is a field error."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import insert, select

from conftest import TEST_KEY, RunningServer
from envelope_checks import invalid, ok
from postroom.clock import utcnow
from postroom.events import repo as event_log
from postroom.features.api_keys import repo as keys_repo
from postroom.storage.tables import deliveries, events, suppressions

SIM = "simulator.postroom.test"


def _wait_for_events(server: RunningServer, count: int, timeout: float = 30) -> None:
    db = server.app.state.services.db
    deadline = time.monotonic() + timeout
    while (
        len(found := db.read_sync(lambda c: c.execute(select(events.c.recipient, events.c.event)).all()))
        < count
    ):
        assert time.monotonic() < deadline, f"the events did not all arrive: {sorted(map(tuple, found))}"
        time.sleep(0.1)


def _mix(server: RunningServer) -> None:
    """Two messages, 8 emails processed (7 + 1; the rejected recipient is not one): 7 delivered (the soft
    bounce after 2 deferrals), 1 hard bounce, 1 spam, 1 open, 1 click, 1 reject, 1 unsubscribe."""
    db = server.app.state.services.db
    account = db.read_sync(keys_repo.master_account_id)
    blocked = {"account_id": account, "email_address": "blocked@example.net", "type": "manual", "reason": ""}
    db.write_sync(lambda c: c.execute(insert(suppressions).values(**blocked, created_at=utcnow())))
    kinds = ["delivered", "softbounce", "hardbounce", "spam", "open", "click", "delivered2"]
    server.send(to=[*(f"{k}@{SIM}" for k in kinds), "blocked@example.net"])
    server.send(sender="other@example.org", to=[f"delivered@{SIM}"])
    # 8 processed, 1 rejected, 7 delivered, 2 soft-bounced, 1 hard-bounced, 3 follow-ups (spam, open, click)
    _wait_for_events(server, 8 + 1 + 7 + 2 + 1 + 3)
    query = select(deliveries).where(deliveries.c.recipient == f"open@{SIM}")
    row = db.read_sync(lambda c: c.execute(query).first())
    unsubscribed = {
        "account_id": account,
        "email_id": row.email_id,
        "delivery_id": row.id,
        "recipient": row.recipient,
        "event": "unsubscribed",
        "created_at": utcnow(),
        "smtp_response": "",
        "host": "",
        "reason": "",
    }
    db.write_sync(lambda c: event_log.append(c, [unsubscribed]))


def test_every_figure_of_every_endpoint(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(retry_schedule="1s")
    _mix(server)
    s = ok(server.post("stats/email_summary", {}))
    figures = (
        "email_count",
        "softbounces",
        "hardbounces",
        "spam_emails",
        "unsubscribes",
        "opens",
        "clicks",
        "rejects",
    )
    assert [s[f] for f in figures] == [8, 2, 1, 1, 1, 1, 1, 1]
    assert (s["bounce_percent"], s["spam_percent"], s["unsubscribe_percent"]) == ("37.50", "12.50", "12.50")
    assert s["cycle_used"] == 2 and s["cycle_end"].endswith("+00:00") and s["bounce_rejects"] == 1
    assert ok(server.post("stats/email_bounces", {})) == {
        "emails": 8,
        "rejects": 1,
        "softbounces": 2,
        "hardbounces": 1,
        "bounce_percent": "37.50",
    }
    assert ok(server.post("stats/email_spam", {})) == {
        "emails": 8,
        "rejects": 1,
        "spams": 1,
        "spam_percent": "12.50",
    }
    assert ok(server.post("stats/email_unsubs", {})) == {
        "emails": 8,
        "rejects": 1,
        "unsubscribes": 1,
        "unsubscribe_percent": "12.50",
    }
    mine = ok(server.post("stats/email_summary", {"username": TEST_KEY[:16]}))
    assert mine["email_count"] == 8  # the WordPress plugin's call: the key's identity as username
    assert ok(server.post("stats/email_summary", {"username": "nobody"}))["email_count"] == 0
    h = ok(server.post("stats/email_history", {}))
    assert h["count"] == 2
    by = {r["email_address"]: r for r in h["history"]}
    first, second = by["s@example.com"], by["other@example.org"]
    counts = ("used", "bounces", "opens", "clicks", "spam", "rejects", "unsubscribes")
    assert [first[c] for c in counts] == [7, 3, 1, 1, 1, 1, 1]
    assert first["lastip"] == "127.0.0.1" and first["bytecount"] > 0
    assert first["avgsize"] == round(first["bytecount"] / 7, 2)
    assert first["bounce_percent"] == round(300 / 7, 2) and first["reject_percent"] == 12.5
    assert second["used"] == 1 and second["bounces"] == 0 and second["rejects"] == 0
    assert h["bounce_percent_total"] == 37.5 and h["reject_percent_total"] == round(100 / 9, 2)
    domains = ok(server.post("stats/email_history", {"group_by": "domain"}))["history"]
    assert {r["domain"]: r["used"] for r in domains} == {"example.com": 7, "example.org": 1}
    assert all(r["domain_verified"] is False for r in domains)
    users = ok(server.post("stats/email_history", {"group_by": "username"}))["history"]
    assert [(r["username"], r["used"]) for r in users] == [(TEST_KEY[:16], 8)]
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    assert ok(server.post("stats/email_history", {"start_date": tomorrow}))["count"] == 0


def test_tenants_see_their_own_figures(server: RunningServer) -> None:
    server.send()
    _wait_for_events(server, 2)
    other = server.account_key()
    assert ok(server.post("stats/email_summary", {}, key=other))["email_count"] == 0
    assert ok(server.post("stats/email_summary", {}))["email_count"] == 1


def test_bad_input_is_a_field_error(server: RunningServer) -> None:
    invalid(server.post("stats/email_history", {"group_by": "planet"}), "group_by")
    invalid(server.post("stats/email_history", {"start_date": "yesterday"}), "start_date")
    invalid(server.post("stats/email_history", {"end_date": "2026-13-45"}), "end_date")
    invalid(
        server.post("stats/email_history", {"start_date": "2026-02-01", "end_date": "2026-01-01"}), "end_date"
    )
    invalid(server.post("stats/email_history", {"subaccounts": ["not-mine"]}), "subaccounts")
    invalid(server.post("stats/email_summary", {"username": "x" * 500}), "username")
    invalid(server.post("stats/email_history", {"start_date": "1" * 100}), "start_date")
