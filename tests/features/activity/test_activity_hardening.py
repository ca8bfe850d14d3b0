"""Activity and capture reads under hostile input: bad tokens and dates are 400s, stored messages with
broken headers still read, paging never loses a delivery, and case folding is not ASCII-only."""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from conftest import RunningServer
from postroom.clock import utcnow
from postroom.delivery import queue
from postroom.delivery.transports.base import Outcome
from postroom.features.activity import repo as activity_repo
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email import repo as email_repo
from postroom.features.email.schemas import SendRequest
from postroom.features.email.service import EmailService
from postroom.storage.tables import events

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


BAD_TOKENS = [
    "[Infinity, 1]",
    "[1, -Infinity]",
    "[NaN, 1]",
    f"[{2**63}, 1]",
    f"[1, {10**400}]",
    "[-1, 1]",
    "[1.5, 1]",
    "[true, 1]",
    '["1", 1]',
    "[1, 2, 3]",
    "{}",
    "[" * 5000 + "]" * 5000,
]


@pytest.mark.parametrize("path", ["activity/search", "email/search"])
def test_bad_continue_tokens_are_400(server: RunningServer, path: str) -> None:
    for value in BAD_TOKENS:
        r = server.post(path, {"continue_token": _token(value)})
        assert r.status_code == 400, (value[:40], r.text)
        assert r.json()["data"]["field_validation_errors"]["fieldname"] == "continue_token"
    assert server.post(path, {"continue_token": _token(f"[{2**63 - 1}, 0]")}).status_code == 200


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
@pytest.mark.parametrize("path", ["activity/search", "email/search"])
def test_dates_outside_the_utc_range_are_400(server: RunningServer, path: str, value: str) -> None:
    for field in ("start_date", "end_date"):
        r = server.post(path, {field: value})
        assert r.status_code == 400, r.text
        assert r.json()["data"]["field_validation_errors"]["fieldname"] == field


def _send(server: RunningServer, **fields: Any) -> str:
    body = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "s", "text_body": "x", **fields}
    r = server.post("email/send", body)
    assert r.status_code == 200, r.text
    email_id: str = r.json()["data"]["email_id"]
    return email_id


def test_non_ascii_search_ignores_case_on_every_backend(server: RunningServer) -> None:
    ids = {
        subject: _send(server, subject=subject, to=[to])
        for subject, to in [
            ("Über uns", "u@example.com"),
            ("Élève français", "e@example.com"),
            ("ÇA VA ΣΟΦΊΑ", "c@example.com"),
            ("plain ascii", "p@example.com"),
        ]
    }
    for email_id in ids.values():
        server.wait_for_events(email_id, 2)

    def activity(needle: str) -> set[str]:
        data = server.post("activity/search", {"search_subject": needle}).json()["data"]
        return {e["email_id"] for e in data["events"]}

    def email_search(needle: str) -> set[str]:
        data = server.post("email/search", {"filter_query": f"subject:{needle}"}).json()["data"]
        return {e["email_id"] for e in data["emails"]}

    def captured(needle: str) -> set[str]:
        with server.client() as c:
            r = c.get(
                "/api/v1/messages", params={"subject": needle}, headers={"X-Smtp2go-Api-Key": server.key}
            )
        return {m["email_id"] for m in r.json()["messages"]}

    for search in (activity, email_search, captured):
        assert search("über") == {ids["Über uns"]}, search
        assert search("ÜBER UNS") == {ids["Über uns"]}, search
        assert search("élève FRANÇAIS") == {ids["Élève français"]}, search
        assert search("ça va σοφία") == {ids["ÇA VA ΣΟΦΊΑ"]}, search
        assert search("PLAIN") == {ids["plain ascii"]}, search
        assert search("uber") == set(), search


def _stored(email_id: str, account_id: str, raw: bytes) -> email_repo.StoredMessage:
    return email_repo.StoredMessage(
        email_id=email_id,
        account_id=account_id,
        username="api-0123456789AB",
        source="smtp",
        client_ip="127.0.0.1",
        sender="a@example.com",
        from_header="a@example.com",
        to=["t@example.com"],
        cc=[],
        bcc=[],
        reply_to="",
        subject="broken",
        raw=raw,
        attachments=[],
        recipients=["t@example.com"],
    )


BROKEN = (
    b'From: a@example.com\r\nTo: "\r\nCc: <\r\nMessage-ID: <\r\nDate: never\r\nSubject: \xff\xfe broken\r\n'
    b'Content-Type: multipart/mixed; boundary="\r\nContent-Disposition: "\r\n\r\nbody\r\n'
)


def test_stored_messages_with_broken_headers_still_read(server: RunningServer) -> None:
    """Messages stored before validation existed (or taken as they are over SMTP) must never 500 a reader."""
    db = server.app.state.services.db
    account = db.write_sync(ensure_master_account)
    db.write_sync(lambda c: email_repo.insert_messages(c, [(_stored("broken1", account, BROKEN), utcnow())]))
    server.wait_for_events("broken1", 2)
    data = server.post("email/search", {"email_id": ["broken1"]}).json()["data"]
    headers = {h["key"]: h["value"] for h in data["emails"][0]["headers"]}
    assert headers["Message-ID"] == "<" and headers["To"] == '"' and "broken" in headers["Subject"]
    r = server.post(
        "activity/search",
        {
            "search_email_id": "broken1",
            "include_headers": True,
            "custom_headers": ["Message-ID", "to", "X-None"],
        },
    )
    assert r.status_code == 200, r.text
    event = r.json()["data"]["events"][0]
    assert event["custom_headers"] == {"Message-ID": "<", "to": '"'} and "Message-ID: <" in event["headers"]
    with server.client() as c:
        r = c.get("/api/v1/messages/broken1", headers={"X-Smtp2go-Api-Key": server.key})
        assert r.status_code == 200, r.text
        assert {h["name"]: h["value"] for h in r.json()["headers"]}["Message-ID"] == "<"
        assert (
            c.get("/api/v1/messages/broken1/raw", headers={"X-Smtp2go-Api-Key": server.key}).content == BROKEN
        )


def test_only_latest_paging_keeps_to_its_snapshot(db: Any) -> None:
    """An event added after the first page must not hide, from later pages, the one it supersedes."""
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))
    service = EmailService(db, 50 * 1024 * 1024)

    async def accept(subject: str) -> str:
        req = SendRequest(sender="s@example.com", to=["t@example.com"], subject=subject, text_body="x")
        return await service.accept(service.prepare_send(principal, req, "127.0.0.1"))

    first, second = asyncio.run(accept("one")), asyncio.run(accept("two"))
    for _ in range(2):  # one delivery at a time, so the second message's event is the newest
        jobs = db.write_sync(lambda c: queue.claim(c, "w", 1, utcnow(), timedelta(minutes=5)))
        db.write_sync(
            lambda c, jobs=jobs: queue.record(c, "w", [(jobs[0], Outcome("delivered", "250", "x"))], utcnow())
        )
    now = utcnow()
    f = activity_repo.EventFilter(account, now.replace(year=2000), now.replace(year=2999), only_latest=True)
    upper = db.read_sync(activity_repo.max_event_id)
    page1, total = db.read_sync(lambda c: activity_repo.search_events(c, f, upper, None, 1))
    assert total == 2 and page1[0]["email_id"] == second
    db.write_sync(
        lambda c: c.execute(
            insert(events).values(
                account_id=account,
                email_id=first,
                delivery_id=None,
                recipient="t@example.com",
                event="opened",
                created_at=utcnow(),
                smtp_response="",
                host="",
                reason="",
            )
        )
    )
    page2, total = db.read_sync(lambda c: activity_repo.search_events(c, f, upper, page1[0]["id"], 1))
    assert total == 2 and [(r["email_id"], r["event"]) for r in page2] == [(first, "delivered")]
