"""The dashboard's sender-domain pages: the setup page /domain/add links to, and its Verify button.

Verification runs against dnsmasq on loopback (never public DNS), with the domain's records published.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from sqlalchemy import Connection

from conftest import TEST_KEY, RunningServer
from delivery.peers import dnsmasq
from envelope_checks import ok
from postroom.features.api_keys import repo as key_repo
from postroom.features.api_keys.service import create_key
from postroom.features.domains.service import insert_domain, new_domain

HOST = "mail.postroom.test"
RETURN_PATH = "bounces.postroom.test"


def _sign_in(client: httpx.Client, key: str = TEST_KEY) -> None:
    r = client.post("/sign-in", data={"api_key": key, "next": "/"})
    assert r.status_code == 303, r.text


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_setup_link_opens_the_page_with_the_records_to_publish(make_server: Any) -> None:
    server: RunningServer = make_server(public_url="http://mail.example.org:8025/")
    [entry] = ok(server.post("domain/add", {"domain": "Example.com", "auto_verify": False}))["domains"]
    link = entry["domain"]["setup_link"]
    assert link == "http://mail.example.org:8025/domains/example.com"
    with server.client() as client:
        assert client.get("/domains/example.com").status_code == 303  # signed out: to the sign-in form
        _sign_in(client)
        page = html.unescape(client.get(link.removeprefix("http://mail.example.org:8025")).text)
        for record in entry["dns_records"]:
            assert record["name"] in page and record["value"] in page
        assert "not verified" in page and "Verify now" in page
        listing = client.get("/domains").text
        assert 'href="/domains/example.com"' in listing
        assert client.get("/domains/unknown.example").status_code == 404


def test_verify_button_checks_dns_and_needs_the_forms_token(make_server: Any) -> None:
    new = new_domain("example.test")
    records = [
        f"--txt-record={new.selector}._domainkey.example.test,v=DKIM1; k=rsa; p={new.key.public_b64}",
        f"--cname=em.example.test,{RETURN_PATH}",
        f"--cname=link.example.test,{HOST}",
    ]
    with dnsmasq(records) as (host, port):
        server: RunningServer = make_server(
            dns_nameservers=f"{host}:{port}", hostname=HOST, return_path_domain=RETURN_PATH
        )
        db = server.app.state.services.db
        db.write_sync(lambda c: insert_domain(c, key_repo.master_account_id(c) or "", new))
        with server.client() as client:
            _sign_in(client)
            page = client.get("/domains/example.test").text
            assert client.post("/domains/example.test/verify", data={"csrf": "forged"}).status_code == 403
            r = client.post("/domains/example.test/verify", data={"csrf": _csrf(page)})
            assert r.status_code == 303 and r.headers["location"] == "/domains/example.test"
            after = client.get("/domains/example.test").text
            assert "not verified" not in after and after.count("<strong>verified</strong>") == 3
    [viewed] = ok(server.post("domain/view", {"domain": "example.test"}))["domains"]
    assert viewed["domain"]["dkim_verified"] and viewed["domain"]["rpath_verified"]


def test_a_key_without_domain_permission_sees_no_domain_page(server: RunningServer) -> None:
    ok(server.post("domain/add", {"domain": "example.com", "auto_verify": False}))

    def make(conn: Connection) -> str:
        return create_key(conn, str(key_repo.master_account_id(conn)), ["/api/v1/messages*"])

    key = server.app.state.services.db.write_sync(make)
    with server.client() as client:
        _sign_in(client, key)
        assert client.get("/").status_code == 200
        r = client.get("/domains/example.com")
        assert r.status_code == 403 and "/domain/view" in r.text
        assert client.get("/domains").status_code == 403


def test_a_key_for_the_domain_pages_only_signs_in_to_them(server: RunningServer) -> None:
    ok(server.post("domain/add", {"domain": "example.com", "auto_verify": False}))

    def make(conn: Connection) -> str:
        return create_key(conn, str(key_repo.master_account_id(conn)), ["/domain/view", "/domain/verify"])

    key = server.app.state.services.db.write_sync(make)
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": key, "next": "/"})
        assert r.status_code == 303 and r.headers["location"] == "/domains"
        assert 'href="/domains/example.com"' in client.get("/domains").text
        assert "Verify now" in client.get("/domains/example.com").text
        assert client.get("/").status_code == 403  # no captured messages for this key
