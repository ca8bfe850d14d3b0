"""/v3/subaccount/* and /subaccounts/search with the seed's aliases, end to end through a real server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from conftest import RunningServer
from envelope_checks import error, invalid, ok

PERMISSION_DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"


def _add(server: RunningServer, key: str = "default", **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = ok(server.post("subaccount/add", {"fullname": "Team A", **fields}, key=key))
    return data


def _key_for(server: RunningServer, account_id: str) -> str:
    from postroom.features.api_keys.service import create_key

    key: str = server.app.state.services.db.write_sync(lambda conn: create_key(conn, account_id, ["*"]))
    return key


def test_add_answers_the_documented_object_with_defaults(server: RunningServer) -> None:
    data = _add(server, subaccount_email="team-a@example.com")
    assert re.fullmatch(r"[0-9a-z]{6}", data["id"])
    assert {k: v for k, v in data.items() if k != "id"} == {
        "name": "Team A",
        "email": "team-a@example.com",
        "plan_size": 10000,
        "plan_used": 0,
        "plan_remaining": 10000,
        "state": "Active",
        "dedicated_ip": False,
        "archiving": False,
        "enforce_2fa": False,
        "sms_enabled": False,
        "sms_limit": 1000,
    }
    other = _add(server, fullname="Team B", limit=250000, dedicated_ip="yes", archiving=True, enable_sms=1)
    assert other["id"] != data["id"]
    assert (other["plan_size"], other["dedicated_ip"], other["archiving"], other["sms_enabled"]) == (
        250000,
        True,
        True,
        True,
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"fullname": ""}, "fullname"),
        ({"limit": 12345}, "limit"),
        ({"limit": 100000, "dedicated_ip": True}, "dedicated_ip"),
        ({"subaccount_email": "not-an-address"}, "subaccount_email"),
        ({"sms_limit": -1}, "sms_limit"),
        ({"sms_limit": 2**63 + 5}, "sms_limit"),  # was a 500: too large for the database's INTEGER
        ({"sms_limit": 2**31}, "sms_limit"),  # PostgreSQL's INTEGER ends at 2**31 - 1
    ],
)
def test_add_validates_its_fields(server: RunningServer, fields: dict[str, Any], field: str) -> None:
    invalid(server.post("subaccount/add", {"fullname": "Team", **fields}), field)


def test_edit_changes_only_the_fields_given_also_through_update(server: RunningServer) -> None:
    sub = _add(server, subaccount_email="a@example.com", archiving=True)
    data = ok(server.post("subaccount/edit", {"id": sub["id"], "fullname": "Renamed", "limit": 5000}))
    assert (data["name"], data["plan_size"], data["archiving"], data["email"]) == (
        "Renamed",
        5000,
        True,
        "a@example.com",
    )
    data = ok(server.post("subaccount/update", {"id": sub["id"], "archiving": False}))
    assert (data["name"], data["archiving"]) == ("Renamed", False)
    error(server.post("subaccount/edit", {"id": "zzzzzz", "fullname": "x"}), 404)
    invalid(server.post("subaccount/edit", {"id": sub["id"], "dedicated_ip": True}), "dedicated_ip")
    invalid(server.post("subaccount/edit", {"fullname": "x"}), "id")


def test_search_filters_sorts_and_pages_through_both_paths(server: RunningServer) -> None:
    ids = {
        name: _add(server, fullname=name, subaccount_email=f"{name.lower()}@example.com")["id"]
        for name in "ABC"
    }
    ok(server.post("subaccount/close", {"id": ids["B"]}))
    data = ok(server.post("subaccounts/search", {}))
    assert data["total_count"] == 3 and data["continue_token"] == ""
    assert [s["name"] for s in data["subaccounts"]] == ["A", "B", "C"]
    assert set(data["subaccounts"][0]) >= {"name", "email", "id", "plan_size", "plan_used", "state"}
    desc = ok(server.post("subaccount/search", {"sort_direction": "desc"}))
    assert [s["name"] for s in desc["subaccounts"]] == ["C", "B", "A"]
    closed = ok(server.post("subaccounts/search", {"states": "closed"}))
    assert [(s["name"], s["state"]) for s in closed["subaccounts"]] == [("B", "Closed")]
    active = ok(server.post("subaccounts/search", {"states": "active"}))
    assert [s["name"] for s in active["subaccounts"]] == ["A", "C"]
    assert ok(server.post("subaccounts/search", {"states": "suspended"}))["total_count"] == 0
    fuzzy = ok(server.post("subaccounts/search", {"search_terms": ["c@EXAMPLE"]}))
    assert [s["id"] for s in fuzzy["subaccounts"]] == [ids["C"]]
    exact = ok(server.post("subaccounts/search", {"search_terms": ["c@example"], "fuzzy_search": False}))
    assert exact["total_count"] == 0
    exact = ok(
        server.post("subaccounts/search", {"search_terms": ["c@example.com"], "fuzzy_search": "false"})
    )
    assert exact["total_count"] == 1
    first = ok(server.post("subaccounts/search", {"page_size": 2}))
    assert [s["name"] for s in first["subaccounts"]] == ["A", "B"] and first["continue_token"]
    rest = ok(server.post("subaccounts/search", {"page_size": 2, "continue_token": first["continue_token"]}))
    assert [s["name"] for s in rest["subaccounts"]] == ["C"] and rest["continue_token"] == ""
    invalid(server.post("subaccounts/search", {"states": "gone"}), "states")
    invalid(server.post("subaccounts/search", {"continue_token": "x"}), "continue_token")


def test_close_reopen_and_reinvite(server: RunningServer) -> None:
    named = _add(server, fullname="Named")
    mailed = _add(server, subaccount_email="t@example.com")
    assert ok(server.post("subaccount/close", {"id": named["id"]})) == "Successfully closed subaccount Named"
    assert ok(server.post("subaccount/close", {"id": mailed["id"], "email": "t@example.com"})) == (
        "Successfully closed subaccount t@example.com"
    )
    error(server.post("subaccount/close", {"id": named["id"]}), 402)
    assert ok(server.post("subaccount/reopen", {"id": mailed["id"]})) == (
        "Successfully reopened subaccount t@example.com"
    )
    error(server.post("subaccount/reopen", {"id": mailed["id"]}), 402)
    error(server.post("subaccount/close", {"id": "nosuch"}), 404)
    for path in ("subaccount/reinvite", "subaccount/resend_invite"):
        assert ok(server.post(path, {"id": mailed["id"]})) == "Invitation resent to t@example.com"
    error(server.post("subaccount/reinvite", {"id": "nosuch"}), 404)
    invalid(server.post("subaccount/reinvite", {"id": named["id"]}), "id")  # no address to invite
    ok(server.post("subaccount/close", {"id": mailed["id"]}))
    error(server.post("subaccount/reinvite", {"id": mailed["id"]}), 402)


def test_only_a_master_account_manages_its_own_subaccounts(server: RunningServer) -> None:
    sub = _add(server)
    sub_key = _key_for(server, sub["id"])
    for path, body in [
        ("subaccount/add", {"fullname": "Nested"}),
        ("subaccount/edit", {"id": sub["id"], "fullname": "x"}),
        ("subaccounts/search", {}),
        ("subaccount/close", {"id": sub["id"]}),
        ("subaccount/reinvite", {"id": sub["id"]}),
    ]:
        error(server.post(path, body, key=sub_key), 403, PERMISSION_DENIED)
    other_master = server.account_key()
    assert ok(server.post("subaccounts/search", {}, key=other_master))["total_count"] == 0
    error(server.post("subaccount/close", {"id": sub["id"]}, key=other_master), 404)
    error(server.post("subaccount/edit", {"id": sub["id"], "fullname": "x"}, key=other_master), 404)


def test_plan_used_counts_this_months_messages(server: RunningServer) -> None:
    sub = _add(server, limit=2000)
    ok(server.post("email/send", _message(subaccount_id=sub["id"])))
    data = ok(server.post("subaccounts/search", {}))["subaccounts"][0]
    assert (data["plan_used"], data["plan_remaining"]) == (1, 1999)


def _message(**fields: Any) -> dict[str, Any]:
    return {"sender": "s@example.com", "to": ["t@example.com"], "subject": "hi", "text_body": "x", **fields}
