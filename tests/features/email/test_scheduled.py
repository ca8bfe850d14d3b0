"""Scheduled sending: formats and limits, search, remove, and delivery at its time (across a restart)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import start_server

from postroom.storage.tables import messages

BODY = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "later", "text_body": "x"}


def _events(server: Any, email_id: str) -> list[str]:
    found = server.post("activity/search", {"search_email_id": email_id}).json()["data"]["events"]
    return sorted(e["event"] for e in found)


def test_a_scheduled_message_waits_for_its_time_and_carries_its_schedule_id(server: Any) -> None:
    when = int(time.time()) + 2
    data = server.post("email/send", {**BODY, "schedule": when}).json()["data"]
    assert data["succeeded"] == 1 and data["email_id"] and data["schedule_id"]
    assert _events(server, data["email_id"]) == ["processed"]
    listed = server.post("email/scheduled/search", {}).json()["data"]
    assert [(i["schedule_id"], i["recipients"], i["subject"]) for i in listed] == [
        (data["schedule_id"], "t@example.com", "later")
    ]
    assert listed[0]["schedule"] == datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert server.post("email/scheduled", {"search_recipient": "nobody"}).json()["data"] == []
    server.wait_for_events(data["email_id"], 2, timeout=10)
    assert _events(server, data["email_id"]) == ["delivered", "processed"]
    assert server.post("email/scheduled/search", {}).json()["data"] == []
    raw = server.app.state.services.db.read_sync(lambda c: c.execute(select(messages.c.raw)).scalar_one())
    assert f"X-Smtp2go-Schedule-Id: {data['schedule_id']}\r\n".encode() in raw


@pytest.mark.parametrize(
    "value",
    [
        (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        str(int(time.time()) + 3600),
    ],
)
def test_schedule_formats_of_decisions_md_are_accepted_and_removable(server: Any, value: str) -> None:
    data = server.post("email/send", {**BODY, "schedule": value}).json()["data"]
    schedule_id = data["schedule_id"]
    removed = server.post("email/scheduled/remove", {"schedule_id": schedule_id})
    assert removed.status_code == 200 and removed.json()["data"] == "Scheduled email removed"
    assert server.post("email/scheduled/search", {}).json()["data"] == []
    again = server.post("email/scheduled/remove", {"schedule_id": schedule_id})
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (int(time.time()) - 10, "in the future"),
        (int(time.time()) + 4 * 86400, "at most 3 days"),
        ("next tuesday", "RFC 3339"),
    ],
)
def test_a_schedule_in_the_past_too_far_or_unreadable_is_a_field_error(
    server: Any, value: Any, words: str
) -> None:
    r = server.post("email/send", {**BODY, "schedule": value})
    assert r.status_code == 400
    errors = r.json()["data"]["field_validation_errors"]
    assert errors["fieldname"] == "schedule" and words in errors["message"]


def test_mime_sends_can_be_scheduled_too(server: Any) -> None:
    import base64

    mime = base64.b64encode(b"From: s@example.com\r\nTo: t@example.com\r\nSubject: m\r\n\r\nhi\r\n").decode()
    data = server.post("email/mime", {"mime_email": mime, "schedule": int(time.time()) + 3600}).json()["data"]
    assert data["schedule_id"] and data["email_id"]


def test_a_scheduled_message_survives_a_restart(database_url: str, tmp_path: Path) -> None:
    srv, thread, first = start_server(database_url, tmp_path / "data")
    data = first.post("email/send", {**BODY, "schedule": int(time.time()) + 2}).json()["data"]
    srv.should_exit = True
    thread.join(timeout=15)
    first.app.state.services.db.engine.dispose()
    srv, thread, second = start_server(database_url, tmp_path / "data")
    try:
        second.wait_for_events(data["email_id"], 2, timeout=10)
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        second.app.state.services.db.engine.dispose()
