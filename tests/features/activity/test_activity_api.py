"""/v3/activity/search filters and paging, and the deprecated /v3/email/search."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import RunningServer


def _search(server: RunningServer, **body: Any) -> dict[str, Any]:
    r = server.post("activity/search", body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


@pytest.fixture
def three(server: RunningServer) -> dict[str, str]:
    ids = {
        "invoice": server.send(
            subject="Your invoice",
            sender="Billing <billing@shop.example>",
            to=["ann@example.com"],
            custom_headers=[{"header": "X-Order", "value": "77"}],
        ),
        "welcome": server.send(subject="Welcome aboard", to=["bob@example.org"]),
        "reset": server.send(subject="Password reset", to=["cid@example.net", "dan@example.net"]),
    }
    for email_id, n in ((ids["invoice"], 2), (ids["welcome"], 2), (ids["reset"], 4)):
        server.wait_for_events(email_id, n)
    return ids


def test_event_fields(server: RunningServer, three: dict[str, str]) -> None:
    events = _search(server, search_email_id=three["invoice"])["events"]
    delivered = next(e for e in events if e["event"] == "delivered")
    processed = next(e for e in events if e["event"] == "processed")
    assert delivered["smtp_response"] == "250 captured" and delivered["host"] == "capture"
    assert processed["delivery_attempts"][0]["smtpresponse"] == "250 captured"
    assert (
        processed["sender"] == "billing@shop.example"
        and processed["sender_full"] == "Billing <billing@shop.example>"
    )
    assert processed["recipient"] == "ann@example.com" and processed["recipients"] == ["ann@example.com"]
    assert processed["subject"] == "Your invoice" and processed["username"] == server.key[:16]
    assert processed["subaccount_name"] == "Master account" and processed["byte_size"] > 0
    assert processed["date"].endswith("Z")
    required = {
        "email_id",
        "date",
        "event",
        "from",
        "sender",
        "sender_full",
        "recipient",
        "recipients",
        "to",
        "cc",
        "bcc",
        "reply_to",
        "subject",
        "username",
        "subaccount_name",
        "smtp_response",
        "reason",
        "host",
        "originating_host",
        "error",
        "email_client",
        "metadata",
        "outbound_ip",
        "byte_size",
        "headers",
        "custom_headers",
        "delivery_attempts",
    }
    assert required <= set(processed)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"search_subject": "INVOICE"}, {"invoice"}),
        ({"search_subject": "invoice | welcome"}, {"invoice", "welcome"}),
        ({"search_sender": "billing@"}, {"invoice"}),
        ({"search_recipient": "example.net"}, {"reset"}),
        ({"search": "aboard"}, {"welcome"}),
        ({"search": "bob@example.org | cid@"}, {"welcome", "reset"}),
    ],
)
def test_text_filters(
    server: RunningServer, three: dict[str, str], body: dict[str, Any], expected: set[str]
) -> None:
    names = {v: k for k, v in three.items()}
    found = {names[e["email_id"]] for e in _search(server, **body)["events"]}
    assert found == expected


def test_event_types_and_seed_synonym(server: RunningServer, three: dict[str, str]) -> None:
    assert {e["event"] for e in _search(server, event_types=["delivered"])["events"]} == {"delivered"}
    assert {e["event"] for e in _search(server, event_type="processed")["events"]} == {"processed"}
    r = server.post("activity/search", {"event_types": ["exploded"]})
    assert (
        r.status_code == 400 and r.json()["data"]["field_validation_errors"]["fieldname"] == "event_types[0]"
    )


def test_only_latest(server: RunningServer, three: dict[str, str]) -> None:
    data = _search(server, only_latest=True)
    assert data["total_events"] == 4 and {e["event"] for e in data["events"]} == {"delivered"}


def test_headers_on_request(server: RunningServer, three: dict[str, str]) -> None:
    event = _search(
        server,
        search_email_id=three["invoice"],
        include_headers=True,
        custom_headers=["X-Order", "X-Missing"],
    )["events"][0]
    assert "Subject: Your invoice" in event["headers"] and event["custom_headers"] == {"X-Order": "77"}
    assert _search(server, search_email_id=three["invoice"])["events"][0]["headers"] == ""


def test_dates_bound_the_window(server: RunningServer, three: dict[str, str]) -> None:
    assert _search(server, start_date="2000-01-01", end_date="2000-01-02")["total_events"] == 0
    assert _search(server, start_date="2000-01-01", end_date="2999-01-01 00:00:00")["total_events"] == 8
    r = server.post("activity/search", {"start_date": "last tuesday"})
    assert r.status_code == 400 and r.json()["data"]["field_validation_errors"]["fieldname"] == "start_date"


def test_limit_bounds(server: RunningServer) -> None:
    for limit in (0, 1001):
        r = server.post("activity/search", {"limit": limit})
        assert r.status_code == 400 and r.json()["data"]["field_validation_errors"]["fieldname"] == "limit"


def test_paging_is_stable_under_concurrent_inserts(server: RunningServer, three: dict[str, str]) -> None:
    first = _search(server, limit=3)
    assert first["total_events"] == 8 and len(first["events"]) == 3 and first["continue_token"]
    new_id = server.send(subject="arrives while paging")
    server.wait_for_events(new_id, 2)
    seen = [(e["email_id"], e["event"], e["recipient"]) for e in first["events"]]
    token = first["continue_token"]
    while token:
        page = _search(server, limit=3, continue_token=token)
        seen += [(e["email_id"], e["event"], e["recipient"]) for e in page["events"]]
        token = page["continue_token"]
    assert len(seen) == 8 and len(set(seen)) == 8
    assert all(email_id != new_id for email_id, _, _ in seen)
    assert _search(server)["total_events"] == 10
    r = server.post("activity/search", {"continue_token": "garbage!"})
    assert r.status_code == 400


def test_events_are_per_account_key_username(server: RunningServer, three: dict[str, str]) -> None:
    assert _search(server, search_usernames=["api-nobody000000"])["total_events"] == 0
    assert _search(server, search_usernames=[server.key[:16]])["total_events"] == 8


def test_email_search_shape(server: RunningServer, three: dict[str, str]) -> None:
    r = server.post("email/search", {})
    data = r.json()["data"]
    assert r.status_code == 200 and data["count"] == 4 and data["continue_token"] is None
    item = next(e for e in data["emails"] if e["email_id"] == three["invoice"])
    assert item["recipient"] == "ann@example.com" and item["status"] == "delivered"
    assert item["process_status"] == "completed" and item["smtpcode"] == 250 and item["host"] == "capture"
    assert {"key": "Subject", "value": "Your invoice"} in item["headers"]
    data = server.post("email/search", {"filter_query": "subject:welcome"}).json()["data"]
    assert [e["email_id"] for e in data["emails"]] == [three["welcome"]]
    paged = server.post("email/search", {"limit": 3}).json()["data"]
    rest = server.post("email/search", {"limit": 3, "continue_token": paged["continue_token"]}).json()["data"]
    assert paged["count"] == 3 and rest["count"] == 1
