"""require_verified_sender: mail only from the account's verified domains, on the API and on SMTP."""

from __future__ import annotations

import smtplib
from typing import Any

from sqlalchemy import select, update

from postroom.features.api_keys import repo as keys_repo
from postroom.features.domains.service import insert_domain, new_domain
from postroom.storage.tables import messages, sender_domains

BODY = {"to": ["t@example.org"], "subject": "s", "text_body": "x"}


def _add_domain(server: Any, name: str, verified: bool) -> None:
    def add(conn: Any) -> None:
        insert_domain(conn, keys_repo.master_account_id(conn) or "", new_domain(name))
        conn.execute(
            update(sender_domains)
            .where(sender_domains.c.domain == name)
            .values(dkim_verified=verified, rpath_verified=verified)
        )

    server.app.state.services.db.write_sync(add)


def test_only_verified_sender_domains_may_send_when_required(make_server: Any) -> None:
    server = make_server(require_verified_sender="true")
    _add_domain(server, "good.example", verified=True)
    _add_domain(server, "pending.example", verified=False)
    ok = server.post("email/send", {**BODY, "sender": "App <app@good.example>"}).json()["data"]
    assert ok["succeeded"] == 1 and ok["email_id"]
    for sender in ("app@pending.example", "app@elsewhere.example"):
        refused = server.post("email/send", {**BODY, "sender": sender}).json()["data"]
        assert (refused["succeeded"], refused["failed"], refused["email_id"]) == (0, 1, "")
        assert refused["failures"][0].startswith(f"unable to verify sender address {sender}")
    body = {"username": "verified-user", "email_password": "verified-password-1"}
    assert server.post("users/smtp/add", body).status_code == 200
    with smtplib.SMTP("127.0.0.1", server.settings.smtp_port, timeout=10) as client:
        client.login("verified-user", "verified-password-1")
        code, reply = client.mail("app@pending.example")
        assert code == 550 and b"5.7.1" in reply and b"unable to verify sender address" in reply
        client.rset()
        assert client.mail("app@good.example")[0] == 250


def test_an_allowed_senders_list_replaces_the_verified_domain_check(make_server: Any) -> None:
    server = make_server(require_verified_sender="true")
    body = {"allowed_senders": ["app@elsewhere.example"], "mode": "whitelist"}
    assert server.post("allowed_senders/update", body).status_code == 200
    data = server.post("email/send", {**BODY, "sender": "app@elsewhere.example"}).json()["data"]
    assert data["succeeded"] == 1


def test_unverified_senders_are_accepted_when_not_required(make_server: Any) -> None:
    server = make_server(require_verified_sender="false")
    data = server.post("email/send", {**BODY, "sender": "app@elsewhere.example"}).json()["data"]
    assert data["succeeded"] == 1


def _warnings(server: Any, email_id: str) -> Any:
    query = select(messages.c.warnings).where(messages.c.email_id == email_id)
    return server.app.state.services.db.read_sync(lambda c: c.execute(query).scalar_one())


def test_with_the_rule_off_an_unverified_sender_is_accepted_with_a_warning(make_server: Any) -> None:
    server = make_server(require_verified_sender="false")
    _add_domain(server, "good.example", verified=True)
    unverified = server.post("email/send", {**BODY, "sender": "app@elsewhere.example"}).json()["data"]
    assert unverified["succeeded"] == 1 and unverified["failures"] == []
    [warning] = _warnings(server, unverified["email_id"])
    assert "app@elsewhere.example is not from a verified sender domain" in warning
    assert "require_verified_sender is off" in warning
    verified = server.post("email/send", {**BODY, "sender": "app@good.example"}).json()["data"]
    assert _warnings(server, verified["email_id"]) is None
    body = {"username": "warned-user", "email_password": "warned-password-1"}
    assert server.post("users/smtp/add", body).status_code == 200
    with smtplib.SMTP("127.0.0.1", server.settings.smtp_port, timeout=10) as client:
        client.login("warned-user", "warned-password-1")
        client.sendmail("app@elsewhere.example", ["t@example.org"], b"Subject: s\r\n\r\nx\r\n")
    [smtp_message] = [
        m for m in server.app.state.services.db.read_sync(_smtp_rows) if m.username == "warned-user"
    ]
    assert smtp_message.warnings and "app@elsewhere.example" in smtp_message.warnings[0]


def _smtp_rows(conn: Any) -> list[Any]:
    return list(conn.execute(select(messages.c.username, messages.c.warnings)))


def test_the_warning_shows_in_the_capture_api_and_the_dashboard(make_server: Any) -> None:
    server = make_server(require_verified_sender="false")
    email_id = server.post("email/send", {**BODY, "sender": "app@elsewhere.example"}).json()["data"][
        "email_id"
    ]
    with server.client(headers={"X-Smtp2go-Api-Key": server.key}) as client:
        detail = client.get(f"/api/v1/messages/{email_id}").json()
        assert len(detail["warnings"]) == 1 and "elsewhere.example" in detail["warnings"][0]
        assert client.post("/sign-in", data={"api_key": server.key}).status_code == 303
        page = client.get(f"/messages/{email_id}").text
        assert '<p class="warning">Warning: the sender app@elsewhere.example' in page
