"""Acting for a subaccount (`subaccount_id`), closed subaccounts' keys, and isolation between subaccounts."""

from __future__ import annotations

import time
from typing import Any

from conftest import RunningServer
from envelope_checks import error, ok

DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
MESSAGE = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "hello", "text_body": "x"}


def _sub(server: RunningServer, name: str, key: str = "default") -> str:
    account_id: str = ok(server.post("subaccount/add", {"fullname": name}, key=key))["id"]
    return account_id


def _key_for(server: RunningServer, account_id: str) -> str:
    from postroom.features.api_keys.service import create_key

    key: str = server.app.state.services.db.write_sync(lambda conn: create_key(conn, account_id, ["*"]))
    return key


def _activity_ids(server: RunningServer, key: str = "default", **fields: Any) -> set[str]:
    events = ok(server.post("activity/search", fields, key=key))["events"]
    return {e["email_id"] for e in events}


def _smtp_users(server: RunningServer, key: str = "default", **fields: Any) -> list[str]:
    return [u["username"] for u in ok(server.post("users/smtp/view", fields, key=key))["results"]]


def _captured(server: RunningServer, key: str) -> set[str]:
    with server.client() as c:
        r = c.get("/api/v1/messages", params={"limit": 1000}, headers={"X-Smtp2go-Api-Key": key})
    assert r.status_code == 200, r.text
    return {m["email_id"] for m in r.json()["messages"]}


def test_a_master_key_acts_for_its_subaccount(server: RunningServer) -> None:
    sub = _sub(server, "Team")
    sub_key = _key_for(server, sub)
    email_id = ok(server.post("email/send", {**MESSAGE, "subaccount_id": sub}))["email_id"]
    assert email_id
    assert email_id in _activity_ids(server, key=sub_key)
    assert email_id in _activity_ids(server, subaccount_id=sub)
    assert email_id not in _activity_ids(server)
    assert email_id in _captured(server, sub_key) and email_id not in _captured(server, server.key)
    ok(server.post("users/smtp/add", {"username": "team-user", "subaccount_id": sub}))
    assert _smtp_users(server, subaccount_id=sub) == ["team-user"]
    assert _smtp_users(server, key=sub_key) == ["team-user"]
    assert _smtp_users(server) == []


def test_acting_is_refused_outside_the_callers_subaccounts(server: RunningServer) -> None:
    sub = _sub(server, "Mine")
    other_master = server.account_key()
    foreign = _sub(server, "Theirs", key=other_master)
    sub_key = _key_for(server, sub)
    error(server.post("users/smtp/view", {"subaccount_id": foreign}), 403, DENIED)
    error(server.post("users/smtp/view", {"subaccount_id": "nosuch"}), 403, DENIED)
    error(server.post("users/smtp/view", {"subaccount_id": sub}, key=sub_key), 403, DENIED)
    error(server.post("users/smtp/view", {"subaccount_id": sub}, key=other_master), 403, DENIED)
    refused = server.post("email/send", {**MESSAGE, "subaccount_id": foreign})
    assert refused.status_code == 403 and refused.json()["data"]["email_id"] == ""
    master_id = server.app.state.services.db.read_sync(_master_id)
    error(server.post("users/smtp/view", {"subaccount_id": master_id}, key=sub_key), 403, DENIED)
    error(
        server.post("users/smtp/view", {"subaccount_id": 5}),
        400,
        "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD",
    )


def _master_id(conn: Any) -> str:
    from postroom.features.api_keys import repo

    account_id = repo.master_account_id(conn)
    assert account_id is not None
    return account_id


def test_a_closed_subaccounts_keys_are_refused_until_it_is_reopened(server: RunningServer) -> None:
    sub = _sub(server, "Closing")
    sub_key = _key_for(server, sub)
    assert _smtp_users(server, key=sub_key) == []  # cached as valid
    ok(server.post("subaccount/close", {"id": sub}))
    error(server.post("users/smtp/view", {}, key=sub_key), 401)
    error(server.post("users/smtp/view", {"subaccount_id": sub}), 402)
    with server.client() as c:
        assert c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": sub_key}).status_code == 401
    ok(server.post("subaccount/reopen", {"id": sub}))
    assert _smtp_users(server, key=sub_key) == []
    assert _smtp_users(server, subaccount_id=sub) == []


def _create_everything(server: RunningServer, sub: str) -> dict[str, Any]:
    """Create one of each listed thing under `sub` through the master key acting for it."""

    def post(path: str, body: dict[str, Any]) -> Any:
        return ok(server.post(path, {**body, "subaccount_id": sub}))

    email_id = post("email/send", MESSAGE)["email_id"]
    post("email/send", {**MESSAGE, "schedule": int(time.time()) + 86400})
    post("users/smtp/add", {"username": f"user-{sub}"})
    post("domain/add", {"domain": f"{sub}.example.com", "auto_verify": False})
    post("allowed_senders/add", {"allowed_senders": [f"{sub}.example.org"]})
    post("ip_auth/edit", {"ip_address": "192.0.2.10"})
    post("api_keys/add", {"description": f"made for {sub}"})
    post("single_sender_emails/add", {"email_address": f"me@{sub}.example.net"})
    return {"email_id": email_id}


def _listed(server: RunningServer, key: str) -> dict[str, Any]:
    """What each list/view endpoint shows the key."""

    def data(path: str, body: dict[str, Any] | None = None) -> Any:
        return ok(server.post(path, body or {}, key=key))

    return {
        "activity": _activity_ids(server, key=key),
        "smtp": _smtp_users(server, key=key),
        "keys": sorted(k["description"] for k in data("api_keys/view")),
        "domains": sorted(d["domain"]["fulldomain"] for d in data("domain/view")["domains"]),
        "senders": data("allowed_senders/view")["allowed_senders"],
        "ip_auth": [r["ip_address"] for r in data("ip_auth/view")["results"]],
        "scheduled": len(data("email/scheduled/search")),
        "single_senders": [s["email_address"] for s in data("single_sender_emails/view")["senders"]],
        "captured": _captured(server, key),
    }


def test_data_of_one_subaccount_is_invisible_to_another(server: RunningServer) -> None:
    a, b = _sub(server, "A"), _sub(server, "B")
    key_a, key_b = _key_for(server, a), _key_for(server, b)
    empty_b = _listed(server, key_b)
    made = _create_everything(server, a)
    seen_a, seen_b = _listed(server, key_a), _listed(server, key_b)
    assert made["email_id"] in seen_a["activity"] and made["email_id"] in seen_a["captured"]
    assert seen_a["smtp"] == [f"user-{a}"] and f"made for {a}" in seen_a["keys"]
    assert seen_a["domains"] == [f"{a}.example.com"] and seen_a["senders"] == [f"{a}.example.org"]
    assert seen_a["ip_auth"] == ["192.0.2.10"] and seen_a["scheduled"] == 1
    assert seen_a["single_senders"] == [f"me@{a}.example.net"]
    assert seen_b == empty_b
    assert made["email_id"] not in seen_b["activity"] and seen_b["smtp"] == [] and seen_b["domains"] == []
    # B's changes do not touch A: B removes and clears what it can, A keeps everything
    error(server.post("users/smtp/remove", {"username": f"user-{a}"}, key=key_b), 404)
    error(server.post("domain/remove", {"domain": f"{a}.example.com"}, key=key_b), 404)
    error(
        server.post("single_sender_emails/remove", {"email_address": f"me@{a}.example.net"}, key=key_b), 404
    )
    ok(
        server.post(
            "allowed_senders/update", {"mode": "disabled", "allowed_senders": ["b.example"]}, key=key_b
        )
    )
    with server.client() as c:
        assert c.delete("/api/v1/messages", headers={"X-Smtp2go-Api-Key": key_b}).status_code == 200
    assert _listed(server, key_a) == seen_a
    # the master sees none of its subaccounts' things through its own key
    master = _listed(server, server.key)
    assert made["email_id"] not in master["activity"] and master["smtp"] == [] and master["domains"] == []
