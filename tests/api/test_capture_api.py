"""The capture API (/api/v1/messages) that test suites use to see what was sent."""

from __future__ import annotations

import base64
import time
from typing import Any

from conftest import RunningServer
from postroom.features.api_keys.service import create_key, ensure_master_account


def _get(server: RunningServer, path: str, key: str | None = None, **params: Any) -> Any:
    with server.client() as c:
        return c.get(path, params=params, headers={"Authorization": f"Bearer {key or server.key}"})


def test_list_newest_first_with_filters_and_cursor(server: RunningServer) -> None:
    ids = [
        server.send(
            subject=f"Order {i}",
            to=[f"user{i}@example.com"],
            cc=["boss@example.com"],
            sender=f"Shop{i} <shop{i}@example.com>",
        )
        for i in range(5)
    ]
    listed = _get(server, "/api/v1/messages").json()
    assert [m["email_id"] for m in listed["messages"]] == ids[::-1]
    first = listed["messages"][0]
    assert first["to"] == ["user4@example.com"] and first["cc"] == ["boss@example.com"]
    assert first["sender"] == "shop4@example.com" and first["subject"] == "Order 4"
    assert first["size"] > 0 and first["attachments"] == 0 and first["created_at"].endswith("Z")
    assert listed["next_cursor"] is None
    assert [m["subject"] for m in _get(server, "/api/v1/messages", subject="order 3").json()["messages"]] == [
        "Order 3"
    ]
    assert len(_get(server, "/api/v1/messages", to="USER2@").json()["messages"]) == 1
    assert len(_get(server, "/api/v1/messages", to="boss@").json()["messages"]) == 5
    assert len(_get(server, "/api/v1/messages", **{"from": "shop1"}).json()["messages"]) == 1
    page = _get(server, "/api/v1/messages", limit=2).json()
    seen = [m["email_id"] for m in page["messages"]]
    while page["next_cursor"]:
        page = _get(server, "/api/v1/messages", limit=2, cursor=page["next_cursor"]).json()
        seen += [m["email_id"] for m in page["messages"]]
    assert seen == ids[::-1]
    assert _get(server, "/api/v1/messages", since="2999-01-01T00:00:00Z").json()["messages"] == []
    assert len(_get(server, "/api/v1/messages", since="2000-01-01T00:00:00Z").json()["messages"]) == 5


def test_bad_query_parameters(server: RunningServer) -> None:
    for params in ({"limit": 1001}, {"limit": 0}, {"limit": "many"}, {"since": "soon"}, {"cursor": "x!"}):
        r = _get(server, "/api/v1/messages", **params)
        assert r.status_code == 400, params
        assert r.json()["data"]["error_code"] == "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"


def test_detail_raw_and_events(server: RunningServer) -> None:
    blob = b"%PDF-1.4 fake"
    email_id = server.send(
        html_body="<p>Hi</p>",
        text_body="Hi",
        bcc=["hidden@example.com"],
        attachments=[{"filename": "a.pdf", "fileblob": base64.b64encode(blob).decode()}],
    )
    server.wait_for_events(email_id, 4)
    detail = _get(server, f"/api/v1/messages/{email_id}").json()
    assert detail["envelope"] == {
        "mail_from": "s@example.com",
        "rcpt_to": ["t@example.com", "hidden@example.com"],
    }
    assert detail["bcc"] == ["hidden@example.com"] and detail["text"].strip() == "Hi"
    assert detail["html"] == "<p>Hi</p>"
    assert detail["attachments"][0]["filename"] == "a.pdf" and detail["attachments"][0]["size"] == len(blob)
    assert detail["attachments"][0]["content_type"] == "application/pdf"
    assert {"name": "Subject", "value": "subject"} in detail["headers"]
    assert any(p["content_type"] == "multipart/mixed" for p in detail["parts"])
    assert sorted(e["event"] for e in detail["events"]) == [
        "delivered",
        "delivered",
        "processed",
        "processed",
    ]
    raw = _get(server, f"/api/v1/messages/{email_id}/raw")
    assert raw.headers["content-type"] == "message/rfc822"
    assert (
        raw.content.startswith(b"From: s@example.com\r\n") and b"Content-Type: multipart/mixed" in raw.content
    )
    assert b"hidden@example.com" not in raw.content


def test_unknown_message_is_404(server: RunningServer) -> None:
    for path in ("/api/v1/messages/nope", "/api/v1/messages/nope/raw"):
        r = _get(server, path)
        assert r.status_code == 404 and r.json()["data"]["error_code"] == "E_ApiResponseCodes.API_EXCEPTION"


def test_auth_required(server: RunningServer) -> None:
    with server.client() as c:
        assert c.get("/api/v1/messages").status_code == 401
        assert c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": "api-" + "F" * 32}).status_code == 401


def test_delete_empties_the_store(server: RunningServer) -> None:
    email_id = server.send()
    server.wait_for_events(email_id, 2)
    with server.client() as c:
        r = c.delete("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key})
    assert r.status_code == 200 and r.json() == {"deleted": 1}
    assert _get(server, "/api/v1/messages").json()["messages"] == []
    assert server.post("activity/search", {}).json()["data"]["total_events"] == 0


def test_capture_is_delivered_by_the_worker_quickly(server: RunningServer) -> None:
    started = time.monotonic()
    email_id = server.send()
    server.wait_for_events(email_id, 2, timeout=5)
    assert time.monotonic() - started < 5


def test_key_with_other_permissions_cannot_read(server: RunningServer) -> None:
    key = server.app.state.services.db.write_sync(
        lambda c: create_key(c, ensure_master_account(c), ["/email/*"])
    )
    assert _get(server, "/api/v1/messages", key=key).status_code == 403
    key2 = server.app.state.services.db.write_sync(
        lambda c: create_key(c, ensure_master_account(c), ["/api/v1/*"])
    )
    assert _get(server, "/api/v1/messages", key=key2).status_code == 200
