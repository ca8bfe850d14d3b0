"""Suppressions enforced on both doors, whatever added them: the API refuses inside the 200 with a
`rejected` event, SMTP at RCPT TO with 550 5.7.1; a domain entry covers its subdomains; a removed
entry lets mail through at once, in another process too."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import RunningServer
from envelope_checks import ok
from postroom.clock import utcnow
from postroom.features.api_keys import repo as keys_repo
from postroom.features.suppressions import repo as suppressions_repo
from postroom.smtp import replies

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE
MESSAGE = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\n\r\nBody\r\n"


def _send(server: RunningServer, to: list[str]) -> Any:
    body = {"sender": "s@example.com", "to": to, "subject": "s", "text_body": "x"}
    return ok(server.post("email/send", body))


def _suppress(server: RunningServer, entry: str) -> None:
    ok(server.post("suppression/add", {"email_address": entry}))


def _unsuppress(server: RunningServer, entry: str, reasons: list[str] | None = None) -> None:
    data = ok(server.post("suppression/remove", {"email_address": entry, "reasons": reasons or ["manual"]}))
    assert any(s["removed"] for s in data["suppressions"]), data


def _bounced(server: RunningServer, address: str) -> None:
    """An entry as the delivery queue records a hard bounce."""

    def add(conn: Any) -> None:
        account = keys_repo.master_account_id(conn)
        assert account is not None
        row = suppressions_repo.row(account, address, "bounce", "550 5.1.1 unknown user", None, utcnow())
        suppressions_repo.add_many(conn, [row])

    server.app.state.services.db.write_sync(add)


def _failure(address: str) -> str:
    return f"{address} is on the suppression list and was not sent to"


def test_a_domain_entry_refuses_the_domain_and_its_subdomains_on_the_api(server: RunningServer) -> None:
    _suppress(server, "blocked.example")
    to = ["a@blocked.example", "b@Mail.Blocked.example", "c@notblocked.example", "d@blocked.example.org"]
    data = _send(server, to)
    assert data["succeeded"] == 1 and data["email_id"]
    assert data["failures"] == [_failure("a@blocked.example"), _failure("b@Mail.Blocked.example")]
    events = server.wait_for_events(data["email_id"], 6)
    assert sorted((e["recipient"], e["event"]) for e in events) == [
        ("a@blocked.example", "rejected"),
        ("b@Mail.Blocked.example", "rejected"),
        ("c@notblocked.example", "delivered"),
        ("c@notblocked.example", "processed"),
        ("d@blocked.example.org", "delivered"),
        ("d@blocked.example.org", "processed"),
    ]
    refused = _send(server, ["x@deep.sub.blocked.example"])
    assert (refused["succeeded"], refused["failed"], refused["email_id"]) == (0, 1, "")
    assert refused["failures"] == [_failure("x@deep.sub.blocked.example")]


def test_removing_an_entry_lets_mail_through_at_once(server: RunningServer) -> None:
    _suppress(server, "ann@example.com")
    assert _send(server, ["ann@example.com"])["succeeded"] == 0
    _unsuppress(server, "ann@example.com")
    data = _send(server, ["ann@example.com"])
    assert (data["succeeded"], data["failures"]) == (1, []) and data["email_id"]


def test_a_bounce_entry_is_enforced_and_removed_like_a_manual_one(server: RunningServer) -> None:
    _bounced(server, "gone@example.org")
    assert _send(server, ["gone@example.org"])["failures"] == [_failure("gone@example.org")]
    _unsuppress(server, "gone@example.org", ["bounce"])
    assert _send(server, ["gone@example.org"])["succeeded"] == 1


def test_a_removal_through_one_process_is_seen_by_another_at_once(
    make_server: Callable[..., RunningServer],
) -> None:
    first = make_server()
    second = make_server()  # the same database, its own services: no shared memory
    _suppress(first, "shared.example")
    assert _send(second, ["a@shared.example"])["succeeded"] == 0
    _unsuppress(second, "shared.example")
    assert _send(first, ["a@shared.example"])["succeeded"] == 1


# --- SMTP ------------------------------------------------------------------------------------------


@pytest.fixture
def smtp(server: RunningServer) -> Iterator[smtplib.SMTP]:
    """An SMTP client that did STARTTLS and AUTH as a new SMTP user of the master account."""
    password = ok(server.post("users/smtp/add", {"username": "suppr-user"}))["results"][0]["email_password"]
    client = smtplib.SMTP("127.0.0.1", server.app.state.smtp.ports[0], timeout=30)
    client.ehlo("client.example")
    client.starttls(context=TLS)
    client.ehlo("client.example")
    client.login("suppr-user", password)
    yield client
    client.close()


def _reply(answer: tuple[int, bytes]) -> str:
    code, text = answer
    return f"{code} {text.decode()}"


def _refusal(address: str) -> str:
    return replies.RECIPIENT_REFUSED.format(reason=f"{address} is on the suppression list")


def test_smtp_refuses_suppressed_recipients_at_rcpt_to(server: RunningServer, smtp: smtplib.SMTP) -> None:
    _suppress(server, "blocked.example")
    _bounced(server, "gone@example.org")
    assert smtp.mail("a@example.com")[0] == 250
    for address in ("x@blocked.example", "y@mail.blocked.example", "Gone@Example.org"):
        assert _reply(smtp.rcpt(address)) == _refusal(address)
    assert smtp.rcpt("ok@example.com")[0] == 250
    code, reply = smtp.data(MESSAGE)
    assert code == 250
    events = server.wait_for_events(reply.decode().split("id=")[1], 2)
    assert {e["recipient"] for e in events} == {"ok@example.com"}


def test_smtp_accepts_a_recipient_as_soon_as_its_entry_is_removed(
    server: RunningServer, smtp: smtplib.SMTP
) -> None:
    _suppress(server, "ann@example.com")
    assert smtp.mail("a@example.com")[0] == 250
    assert _reply(smtp.rcpt("ann@example.com")) == _refusal("ann@example.com")
    _unsuppress(server, "ann@example.com")
    assert smtp.rcpt("ann@example.com")[0] == 250  # same session, no cache to expire
    assert smtp.data(MESSAGE)[0] == 250


def test_smtp_users_of_a_subaccount_follow_its_own_list(server: RunningServer) -> None:
    sub = ok(server.post("subaccount/add", {"fullname": "Team"}))["id"]
    ok(server.post("suppression/add", {"email_address": "team-blocked@example.com", "subaccount_id": sub}))
    _suppress(server, "master-blocked@example.com")
    added = ok(server.post("users/smtp/add", {"username": "team-smtp", "subaccount_id": sub}))
    with smtplib.SMTP("127.0.0.1", server.app.state.smtp.ports[0], timeout=30) as client:
        client.ehlo("client.example")
        client.starttls(context=TLS)
        client.ehlo("client.example")
        client.login("team-smtp", added["results"][0]["email_password"])
        assert client.mail("a@example.com")[0] == 250
        assert _reply(client.rcpt("team-blocked@example.com")) == _refusal("team-blocked@example.com")
        assert client.rcpt("master-blocked@example.com")[0] == 250
