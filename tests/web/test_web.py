"""The capture viewer at `/`, driven like a browser would: forms, cookies and redirects over real HTTP."""

from __future__ import annotations

import base64
import hmac
import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, update

from conftest import TEST_KEY, RunningServer, start_server
from postroom.features.api_keys import repo as key_repo
from postroom.features.api_keys.service import create_key, key_id_of
from postroom.storage.tables import api_keys

MESSAGE_LINK = re.compile(r'href="(/messages/[^"/]+)"')


@pytest.fixture
def browser(server: RunningServer) -> Iterator[httpx.Client]:
    """A client signed in with the test key."""
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": TEST_KEY, "next": "/"})
        assert r.status_code == 303, r.text
        yield client


def send(server: RunningServer, **fields: object) -> str:
    body = {
        "sender": "alice@example.com",
        "to": ["bob@example.com"],
        "subject": "hello",
        "text_body": "hi",
        **fields,
    }
    r = server.post("email/send", body)
    assert r.status_code == 200, r.text
    email_id: str = r.json()["data"]["email_id"]
    return email_id


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def srcdoc_of(page: str) -> str:
    match = re.search(r'<iframe sandbox [^>]*srcdoc="([^"]*)">', page)
    assert match, page
    return html.unescape(match.group(1))


def test_signed_out_pages_redirect_to_the_sign_in_form(server: RunningServer) -> None:
    with server.client() as client:
        assert client.get("/").headers["location"] == "/sign-in"
        r = client.get("/messages/abc/raw")
        assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=%2Fmessages%2Fabc%2Fraw"
        r = client.post("/empty", data={"csrf": "x"})
        assert r.status_code == 303 and r.headers["location"] == "/sign-in"
        form = client.get("/sign-in?next=/messages/abc")
        assert form.status_code == 200 and 'name="api_key"' in form.text
        assert 'name="next" value="/messages/abc"' in form.text
        assert "default-src 'none'" in form.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in form.headers["content-security-policy"]


@pytest.mark.parametrize("key", ["api-FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "not a key", ""])
def test_sign_in_with_a_wrong_key_shows_an_error(server: RunningServer, key: str) -> None:
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": key})
        assert r.status_code == 400
        assert "That API key is not valid." in r.text
        assert "set-cookie" not in r.headers
        assert client.get("/").status_code == 303


def test_sign_in_sets_a_strict_httponly_cookie_without_the_key(server: RunningServer) -> None:
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": TEST_KEY, "next": "/messages/x"})
        assert r.status_code == 303 and r.headers["location"] == "/messages/x"
        cookie = r.headers["set-cookie"]
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
        value = cookie.split(";")[0].split("=", 1)[1]
        assert TEST_KEY[4:].upper() not in value.upper() and TEST_KEY[-16:].upper() not in value.upper()
        assert key_id_of(TEST_KEY) in value
        assert client.get("/").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\t/evil.example/", "/\\x"])
def test_sign_in_does_not_follow_next_off_site(server: RunningServer, target: str) -> None:
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": TEST_KEY, "next": target})
        assert r.headers["location"] == "/"


def test_a_tampered_cookie_is_refused(server: RunningServer, browser: httpx.Client) -> None:
    value = browser.cookies["postroom_session"]
    key_id, rest = value.split(".", 2)[1], value
    forged = rest.replace(key_id, "api-FFFFFFFFFFFF")
    with server.client(cookies={"postroom_session": forged}) as client:
        assert client.get("/").status_code == 303
    flipped = value[:-1] + ("0" if value[-1] != "0" else "1")
    with server.client(cookies={"postroom_session": flipped}) as client:
        assert client.get("/").status_code == 303


def test_an_expired_cookie_is_refused(server: RunningServer, browser: httpx.Client) -> None:
    with server.app.state.services.db.engine.connect() as conn:
        secret = key_repo.get_state(conn, "web_session_secret")
    assert secret and secret not in browser.cookies["postroom_session"]

    def cookie(expires: int) -> str:
        payload = f"v1.{key_id_of(TEST_KEY)}.{expires}.{'ab' * 16}"
        return f"{payload}.{hmac.new(secret.encode(), f'session|{payload}'.encode(), 'sha256').hexdigest()}"

    now = int(time.time())
    with server.client(cookies={"postroom_session": cookie(now + 60)}) as client:
        assert client.get("/").status_code == 200
    with server.client(cookies={"postroom_session": cookie(now - 1)}) as client:
        assert client.get("/").status_code == 303
    non_ascii = f"postroom_session={cookie(now + 60)[:-1]}é".encode()
    with server.client() as client:
        assert client.get("/", headers=[(b"cookie", non_ascii)]).status_code == 303


def test_a_key_without_capture_permission_cannot_sign_in(server: RunningServer) -> None:
    db = server.app.state.services.db

    def make(conn: Connection) -> str:
        return create_key(conn, str(key_repo.master_account_id(conn)), ["/email/send"])

    key = db.write_sync(make)
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": key})
        assert r.status_code == 403 and "may not read captured messages" in r.text


def test_the_api_allow_list_guards_the_dashboard_too(server: RunningServer, browser: httpx.Client) -> None:
    assert browser.get("/").status_code == 200
    assert server.post("ip_allow_list/add", {"ip_address": "198.51.100.7", "type": "api"}).status_code == 200
    assert server.post("ip_allow_list", {"enabled": True, "type": "api"}).status_code == 200
    # from 127.0.0.1 the account's API is now closed; so are its dashboard pages and its sign-in
    r = browser.get("/")
    assert r.status_code == 403 and "API allow list" in r.text
    with server.client() as client:
        r = client.post("/sign-in", data={"api_key": TEST_KEY})
        assert r.status_code == 403 and "allow list" in r.text


def test_a_blocked_key_is_signed_out(server: RunningServer, browser: httpx.Client) -> None:
    assert browser.get("/").status_code == 200
    with server.app.state.services.db.engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.id == key_id_of(TEST_KEY)).values(status="blocked"))
    r = browser.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/sign-in"


def test_the_list_shows_messages_with_escaped_subjects(server: RunningServer, browser: httpx.Client) -> None:
    send(server, subject="<script>alert(1)</script> & co")
    send(server, subject="second one", sender="carol@example.org")
    page = browser.get("/")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page.text
    assert "<script>" not in page.text
    assert "<td>carol@example.org</td><td>bob@example.com</td>" in page.text
    assert page.text.index("second one") < page.text.index("alert(1)")  # newest first
    assert "default-src 'none'" in page.headers["content-security-policy"]
    filtered = browser.get("/", params={"from": "carol@"})
    assert "second one" in filtered.text and "alert(1)" not in filtered.text
    assert 'value="carol@"' in filtered.text
    assert "second one" not in browser.get("/", params={"subject": "script", "to": "bob@"}).text


def test_older_pages_follow_the_cursor(server: RunningServer, browser: httpx.Client) -> None:
    sent = {send(server, subject=f"number {i}") for i in range(3)}
    first = browser.get("/", params={"limit": "2"}).text
    older = re.search(r'<a href="([^"]+)">Older</a>', first)
    assert older is not None
    second = browser.get(html.unescape(older.group(1))).text
    assert "Older</a>" not in second and ">Newest</a>" in second
    first_ids, second_ids = MESSAGE_LINK.findall(first), MESSAGE_LINK.findall(second)
    assert len(first_ids) == 2 and len(second_ids) == 1
    assert {link.rsplit("/", 1)[1] for link in first_ids + second_ids} == sent


def test_the_message_page_shows_a_sandboxed_html_part_and_the_text(
    server: RunningServer, browser: httpx.Client
) -> None:
    body_html = '<p class="x">Hello "world" &amp; <b>you</b> \'quoted\'</p><script>alert(2)</script>'
    email_id = send(
        server,
        subject="Look <here>",
        html_body=body_html,
        text_body="plain <text> body",
        sender="Carol <carol@example.org>",
        custom_headers=[{"header": "X-Test", "value": "<i>header</i>"}],
    )
    server.wait_for_events(email_id, 2)
    r = browser.get(f"/messages/{email_id}")
    assert r.status_code == 200
    assert "default-src 'none'" in r.headers["content-security-policy"]
    iframe = re.search(r"<iframe[^>]*>", r.text)
    assert iframe and " sandbox " in iframe.group(0) and "allow-" not in iframe.group(0)
    assert body_html in srcdoc_of(r.text)
    assert "<pre>plain &lt;text&gt; body</pre>" in r.text
    assert "<h1>Look &lt;here&gt;</h1>" in r.text
    assert "<td>Carol &lt;carol@example.org&gt;</td>" in r.text
    assert "<th>X-Test</th><td>&lt;i&gt;header&lt;/i&gt;</td>" in r.text
    assert "<script>" not in r.text
    assert "processed" in r.text and "delivered" in r.text
    assert f'href="/messages/{email_id}/raw"' in r.text
    raw = browser.get(f"/messages/{email_id}/raw")
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/plain")
    assert "Subject: Look <here>" in raw.text and "sandbox" in raw.headers["content-security-policy"]


def test_an_unknown_message_is_a_404_page(browser: httpx.Client) -> None:
    r = browser.get("/messages/nope")
    assert r.status_code == 404 and "not found" in r.text and "<html" in r.text
    assert browser.get("/messages/nope/parts/1").status_code == 404


def test_an_attachment_downloads_byte_for_byte(server: RunningServer, browser: httpx.Client) -> None:
    content = bytes(range(256)) * 40
    blob = base64.b64encode(content).decode()
    email_id = send(
        server,
        attachments=[{"filename": 'data "1".bin', "fileblob": blob, "mimetype": "application/octet-stream"}],
    )
    page = browser.get(f"/messages/{email_id}").text
    link = re.search(rf'href="(/messages/{email_id}/parts/\d+)">data &quot;1&quot;.bin</a>', page)
    assert link, page
    r = browser.get(link.group(1))
    assert r.status_code == 200 and r.content == content
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith('attachment; filename="data _1_.bin"')
    assert "filename*=UTF-8''data%20%221%22.bin" in r.headers["content-disposition"]


def test_inline_images_are_embedded_in_the_preview(server: RunningServer, browser: httpx.Client) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    email_id = send(
        server,
        html_body='<img src="cid:logo@x" alt="logo">',
        inlines=[
            {
                "filename": "logo.png",
                "fileblob": base64.b64encode(png).decode(),
                "mimetype": "image/png",
                "cid": "logo@x",
            }
        ],
    )
    srcdoc = srcdoc_of(browser.get(f"/messages/{email_id}").text)
    assert f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"' in srcdoc


def test_emptying_the_store_needs_the_csrf_token(server: RunningServer, browser: httpx.Client) -> None:
    send(server, subject="keep me until asked")
    page = browser.get("/").text
    refused = browser.post("/empty", data={"csrf": "wrong"})
    assert refused.status_code == 403
    assert browser.post("/empty").status_code == 403
    assert "keep me until asked" in browser.get("/").text
    r = browser.post("/empty", data={"csrf": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    after = browser.get("/").text
    assert "keep me until asked" not in after and "No captured messages." in after
    with server.client() as api:
        listed = api.get("/api/v1/messages", headers={"Authorization": f"Bearer {TEST_KEY}"}).json()
        assert listed["messages"] == []


def test_sign_out_ends_the_session(server: RunningServer, browser: httpx.Client) -> None:
    page = browser.get("/").text
    cookie = browser.cookies["postroom_session"]
    assert browser.post("/sign-out", data={"csrf": "wrong"}).status_code == 403
    r = browser.post("/sign-out", data={"csrf": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == "/sign-in"
    assert 'postroom_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    assert browser.get("/").status_code == 303
    with server.client(cookies={"postroom_session": cookie}) as copy:
        assert copy.get("/").status_code == 303  # a copy of the cookie is refused too


def test_processes_sharing_a_database_share_sessions(
    server: RunningServer, browser: httpx.Client, tmp_path: Path
) -> None:
    cookie = browser.cookies["postroom_session"]
    other, thread, running = start_server(server.settings.database_url, tmp_path / "second")
    try:
        with running.client(cookies={"postroom_session": cookie}) as client:
            assert client.get("/").status_code == 200
    finally:
        other.should_exit = True
        thread.join(timeout=15)
        running.app.state.services.db.engine.dispose()
