"""Sends to suppressed recipients: refused inside a 200, as decisions.md describes."""

from __future__ import annotations

from typing import Any

from postroom.clock import utcnow
from postroom.features.api_keys import repo as keys_repo
from postroom.features.suppressions import repo as suppressions


def _suppress(server: Any, address: str) -> None:
    def add(conn: Any) -> None:
        account = keys_repo.master_account_id(conn)
        assert account is not None
        suppressions.add_many(
            conn, [suppressions.row(account, address, "bounce", "550 5.1.1", None, utcnow())]
        )

    server.app.state.services.db.write_sync(add)


def test_every_recipient_suppressed_is_a_failed_send_without_an_email_id(server: Any) -> None:
    _suppress(server, "Gone@Example.com")
    body = {"sender": "s@example.com", "to": ["gone@example.com"], "subject": "s", "text_body": "x"}
    data = server.post("email/send", body).json()["data"]
    assert (data["succeeded"], data["failed"], data["email_id"]) == (0, 1, "")
    assert data["failures"] == ["gone@example.com is on the suppression list and was not sent to"]


def test_some_recipients_suppressed_are_listed_and_the_rest_are_sent_to(server: Any) -> None:
    _suppress(server, "blocked.example")  # a whole domain
    body = {
        "sender": "s@example.com",
        "to": ["a@blocked.example", "b@ok.example"],
        "subject": "s",
        "text_body": "x",
    }
    data = server.post("email/send", body).json()["data"]
    assert data["succeeded"] == 1 and data["email_id"]
    assert data["failures"] == ["a@blocked.example is on the suppression list and was not sent to"]
    found = server.wait_for_events(data["email_id"], 3)
    assert sorted((e["recipient"], e["event"]) for e in found) == [
        ("a@blocked.example", "rejected"),
        ("b@ok.example", "delivered"),
        ("b@ok.example", "processed"),
    ]
    batch = server.post("email/batch", {"emails": [body, {**body, "to": ["c@blocked.example"]}]}).json()[
        "data"
    ]
    assert [item["succeeded"] for item in batch] == [1, 0]
