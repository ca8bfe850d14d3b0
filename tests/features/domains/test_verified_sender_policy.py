"""require_verified_sender: mail only from the account's verified domains, on the API and on SMTP."""

from __future__ import annotations

import smtplib
from typing import Any

from sqlalchemy import update

from postroom.features.api_keys import repo as keys_repo
from postroom.features.domains.service import insert_domain, new_domain
from postroom.storage.tables import sender_domains

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
