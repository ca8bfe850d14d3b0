"""The first thing a user does: send through /v3/email/send and see processed and delivered events."""

from __future__ import annotations

from conftest import RunningServer


def test_send_then_activity_shows_processed_and_delivered(server: RunningServer) -> None:
    r = server.post(
        "email/send",
        {
            "sender": "a@example.com",
            "to": ["b@example.com", "c@example.com"],
            "subject": "hello",
            "text_body": "hi",
        },
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["succeeded"] == 1 and data["failed"] == 0 and data["email_id"]
    events = server.wait_for_events(data["email_id"], 4)
    kinds = sorted((e["recipient"], e["event"]) for e in events)
    assert kinds == [
        ("b@example.com", "delivered"),
        ("b@example.com", "processed"),
        ("c@example.com", "delivered"),
        ("c@example.com", "processed"),
    ]
