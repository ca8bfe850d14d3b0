"""SMTP submission end to end, with Python's smtplib (and swaks) against a real server on loopback."""

from __future__ import annotations

import base64
import email
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer, start_server
from postroom.smtp import replies

TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE


def add_user(server: RunningServer, username: str = "smtp-user-1", **fields: Any) -> str:
    r = server.post("users/smtp/add", {"username": username, **fields})
    assert r.status_code == 200, r.text
    password: str = r.json()["data"]["results"][0]["email_password"]
    return password


def smtp_port(server: RunningServer) -> int:
    port: int = server.app.state.smtp.ports[0]
    return port


def message(subject: str = "Hello", to: str = "to@example.com", **headers: str) -> bytes:
    lines = ["From: Sender <sender@example.com>", f"To: {to}", f"Subject: {subject}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\nBody line\r\n").encode()


def captured(server: RunningServer, **params: Any) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get(
            "/api/v1/messages", params={"limit": 1000, **params}, headers={"X-Smtp2go-Api-Key": server.key}
        )
    result: list[dict[str, Any]] = r.json()["messages"]
    return result


def raw_of(server: RunningServer, email_id: str) -> bytes:
    with server.client() as c:
        return c.get(f"/api/v1/messages/{email_id}/raw", headers={"X-Smtp2go-Api-Key": server.key}).content


def detail_of(server: RunningServer, email_id: str) -> dict[str, Any]:
    with server.client() as c:
        result: dict[str, Any] = c.get(
            f"/api/v1/messages/{email_id}", headers={"X-Smtp2go-Api-Key": server.key}
        ).json()
    return result


def submit(client: smtplib.SMTP, sender: str, rcpts: list[str], data: bytes) -> tuple[int, str]:
    """MAIL, RCPT…, DATA; returns the reply to DATA."""
    code, reply = client.mail(sender)
    assert code == 250, reply
    for rcpt in rcpts:
        code, reply = client.rcpt(rcpt)
        assert code == 250, reply
    code, reply = client.data(data)
    return code, reply.decode()


@pytest.fixture
def session(server: RunningServer) -> Iterator[tuple[smtplib.SMTP, str]]:
    """An SMTP client that did STARTTLS and AUTH PLAIN as a fresh SMTP user."""
    password = add_user(server)
    client = smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30)
    client.ehlo("client.example")
    client.starttls(context=TLS)
    client.ehlo("client.example")
    client.login("smtp-user-1", password)
    yield client, password
    client.close()


def test_ehlo_advertises_the_extensions(server: RunningServer) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=10) as client:
        code, banner = client.ehlo("client.example")
        assert code == 250
        text = banner.decode().upper()
        for ext in ("SIZE 52428800", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "STARTTLS"):
            assert ext in text, ext
        assert "AUTH LOGIN PLAIN" in text  # loopback listener: plain AUTH allowed for local development
        assert client.ehlo_resp is not None


def test_starttls_auth_plain_send_is_captured_with_events(
    server: RunningServer, session: tuple[smtplib.SMTP, str]
) -> None:
    client, _ = session
    data = message("Via SMTP", to="Ann <ann@example.com>", Cc="cc@example.com", Bcc="hidden@example.com")
    code, reply = submit(
        client, "bounce@example.com", ["ann@example.com", "cc@example.com", "hidden@example.com"], data
    )
    assert code == 250 and reply.startswith("2.0.0 OK id=")
    email_id = reply.split("id=")[1]
    events = server.wait_for_events(email_id, 6)
    assert {e["username"] for e in events} == {"smtp-user-1"}
    assert {e["event"] for e in events} == {"processed", "delivered"}
    raw = raw_of(server, email_id)
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed["Bcc"] is None and b"hidden@example.com" not in raw
    assert "by localhost (Postroom) with ESMTPSA id " + email_id in " ".join(str(parsed["Received"]).split())
    assert parsed["Message-ID"] and parsed["Date"] and parsed["Subject"] == "Via SMTP"
    detail = detail_of(server, email_id)
    assert detail["envelope"]["mail_from"] == "bounce@example.com"
    assert sorted(detail["envelope"]["rcpt_to"]) == [
        "ann@example.com",
        "cc@example.com",
        "hidden@example.com",
    ]
    assert detail["bcc"] == ["hidden@example.com"] and detail["source"] == "smtp"


def test_auth_login_and_wrong_password(server: RunningServer) -> None:
    password = add_user(server)
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30) as client:
        client.starttls(context=TLS)
        client.ehlo()
        client.user, client.password = "smtp-user-1", "wrong-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.auth("LOGIN", client.auth_login, initial_response_ok=False)  # type: ignore[arg-type]
    assert (refused.value.smtp_code, refused.value.smtp_error.decode()) == (535, replies.BAD_CREDENTIALS[4:])
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30) as client:
        client.starttls(context=TLS)
        client.ehlo()
        client.user, client.password = "smtp-user-1", password
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)  # type: ignore[arg-type]
        assert code == 235
        code, _ = submit(client, "a@example.com", ["b@example.com"], message("login"))
    assert code == 250


def test_unauthenticated_client_cannot_relay(server: RunningServer) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=10) as client:
        client.ehlo()
        code, _ = client.mail("a@example.com")
        assert code == 250  # only feedback to the return-path domain may follow
        code, reply = client.rcpt("victim@example.org")
        assert (code, reply.decode()) == (530, replies.MUST_AUTHENTICATE[4:])
        code, _ = client.rcpt(f"bounces@{server.settings.effective_return_path_domain}.example.org")
        assert code == 530
        with pytest.raises(smtplib.SMTPDataError) as no_recipients:
            client.data(b"Subject: relay me\r\n\r\nplease\r\n")
        assert no_recipients.value.smtp_code == 503
    assert captured(server) == []


def test_auth_refused_before_starttls_when_plain_auth_is_off(database_url: str, tmp_path: Path) -> None:
    srv, thread, running = start_server(database_url, tmp_path / "data", smtp_allow_plain_auth="false")
    try:
        password = add_user(running)
        with smtplib.SMTP("127.0.0.1", smtp_port(running), timeout=10) as client:
            client.ehlo()
            assert "AUTH" not in (client.ehlo_resp or b"").decode()
            code, reply = client.docmd(
                "AUTH", "PLAIN " + base64.b64encode(b"\0smtp-user-1\0" + password.encode()).decode()
            )
            assert (code, reply.decode()) == (538, replies.ENCRYPTION_REQUIRED[4:])
            client.starttls(context=TLS)
            client.ehlo()
            client.login("smtp-user-1", password)
    finally:
        srv.should_exit = True
        thread.join(15)


def test_implicit_tls_port(database_url: str, tmp_path: Path) -> None:
    from conftest import free_port

    srv, thread, running = start_server(database_url, tmp_path / "data", smtps_port=free_port())
    try:
        password = add_user(running)
        tls_port = running.app.state.smtp.ports[1]
        with smtplib.SMTP_SSL("127.0.0.1", tls_port, context=TLS, timeout=10) as client:
            client.login("smtp-user-1", password)
            code, reply = submit(client, "a@example.com", ["b@example.com"], message("implicit"))
        assert code == 250
        email_id = reply.split("id=")[1]
        assert "with ESMTPSA" in raw_of(running, email_id).decode()
    finally:
        srv.should_exit = True
        thread.join(15)


def test_recipient_limit_size_limit_and_pipelining(database_url: str, tmp_path: Path) -> None:
    srv, thread, running = start_server(
        database_url, tmp_path / "data", smtp_max_recipients=3, smtp_max_size=2000
    )
    try:
        password = add_user(running)
        auth = base64.b64encode(b"\0smtp-user-1\0" + password.encode()).decode()
        with socket.create_connection(("127.0.0.1", smtp_port(running)), timeout=10) as sock:
            f = sock.makefile("rb")
            f.readline()
            pipelined = (
                f"EHLO c\r\nAUTH PLAIN {auth}\r\nMAIL FROM:<a@example.com>\r\n"
                + "".join(f"RCPT TO:<r{i}@example.com>\r\n" for i in range(4))
                + "DATA\r\n"
            )
            sock.sendall(pipelined.encode())
            lines = [f.readline().decode().rstrip()]
            while not lines[-1].startswith("354"):
                lines.append(f.readline().decode().rstrip())
            ehlo_end = next(i for i, line in enumerate(lines) if line.startswith("250 "))
            codes = [line[:3] for line in lines[ehlo_end + 1 :]]
            assert codes == ["235", "250", "250", "250", "250", "452", "354"], lines
            assert lines[-2] == replies.TOO_MANY_RECIPIENTS
            sock.sendall(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 50 + b".\r\nQUIT\r\n")
            assert f.readline().decode().startswith("552 5.3.4")
        assert captured(running) == []
    finally:
        srv.should_exit = True
        thread.join(15)


def test_utf8_addresses_and_8bit_body(server: RunningServer, session: tuple[smtplib.SMTP, str]) -> None:
    client, _ = session
    body = (
        "From: jürgen@example.com\r\nTo: zoë@example.com\r\nSubject: Grüße\r\n\r\nÄrger über Öl\r\n".encode()
    )
    code, _ = client.mail("jürgen@example.com", ["SMTPUTF8", "BODY=8BITMIME"])
    assert code == 250
    assert client.rcpt("zoë@example.com")[0] == 250
    code, reply = client.data(body)
    assert code == 250
    email_id = reply.decode().split("id=")[1]
    raw = raw_of(server, email_id)
    assert "Ärger über Öl".encode() in raw
    assert detail_of(server, email_id)["envelope"]["rcpt_to"] == ["zoë@example.com"]


def test_ten_megabyte_attachment_round_trips(
    server: RunningServer, session: tuple[smtplib.SMTP, str]
) -> None:
    client, _ = session
    blob = os.urandom(10 * 1024 * 1024)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "big"
    msg.set_content("see attachment")
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="big.bin")
    code, reply = submit(client, "a@example.com", ["b@example.com"], msg.as_bytes(policy=SMTP_POLICY))
    assert code == 250
    parsed = email.message_from_bytes(raw_of(server, reply.split("id=")[1]), policy=default)
    part = next(p for p in parsed.walk() if p.get_filename() == "big.bin")
    assert part.get_content() == blob


def test_blocked_user_cannot_authenticate_nor_send_after_being_blocked(server: RunningServer) -> None:
    blocked = add_user(server, "blocked-user", status="blocked")
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("blocked-user", blocked)
        assert refused.value.smtp_code == 535
    password = add_user(server, "muted-user")
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30) as client:
        client.ehlo()
        client.login("muted-user", password)
        with server.client() as c:
            r = c.patch(
                "/v3/users/smtp/edit",
                json={"username": "muted-user", "status": "blocked"},
                headers={"X-Smtp2go-Api-Key": server.key},
            )
        assert r.status_code == 200, r.text
        code, reply = client.mail("a@example.com")
        assert code == 550 and reply.decode().startswith("5.7.1")
    assert captured(server) == []


def test_rate_limit_per_user(server: RunningServer) -> None:
    password = add_user(
        server,
        "limited-user",
        custom_ratelimit=True,
        custom_ratelimit_value=2,
        custom_ratelimit_period="1 hour",
    )
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=30) as client:
        client.ehlo()
        client.login("limited-user", password)
        for i in range(2):
            assert submit(client, "a@example.com", ["b@example.com"], message(f"n{i}"))[0] == 250
        code, reply = client.mail("a@example.com")
        assert (code, reply.decode()) == (451, replies.RATE_LIMITED[4:])
    assert len(captured(server)) == 2


def test_connection_limit_and_shutdown(database_url: str, tmp_path: Path) -> None:
    srv, thread, running = start_server(database_url, tmp_path / "data", smtp_max_connections=2)
    port = smtp_port(running)
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    second = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        assert first.makefile("rb").readline().startswith(b"220 ")
        assert second.makefile("rb").readline().startswith(b"220 ")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as third:
            assert third.makefile("rb").readline().startswith(b"421 4.7.0")
    finally:
        srv.should_exit = True
        thread.join(15)
    assert first.makefile("rb").readline().startswith(b"421 4.3.2")
    first.close()
    second.close()


def test_storage_unavailable_is_451(server: RunningServer, session: tuple[smtplib.SMTP, str]) -> None:
    client, _ = session
    server.app.state.services.db.writer.stop()
    code, reply = submit(client, "a@example.com", ["b@example.com"], message("lost?"))
    assert (code, reply) == (451, replies.STORAGE_UNAVAILABLE[4:])


def test_500_messages_over_20_connections_each_stored_once(server: RunningServer) -> None:
    password = add_user(server)
    errors: list[BaseException] = []

    def sender(worker: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=60) as client:
                client.ehlo()
                client.login("smtp-user-1", password)
                for i in range(25):
                    code, _ = submit(client, "a@example.com", ["b@example.com"], message(f"m-{worker}-{i}"))
                    assert code == 250
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    subjects = [m["subject"] for m in captured(server)]
    assert len(subjects) == 500 and len(set(subjects)) == 500


@pytest.mark.skipif(
    shutil.which("swaks") is None and os.environ.get("POSTROOM_REQUIRE_ALL_TESTS") != "1",
    reason="swaks is not installed",
)
def test_swaks_with_starttls_and_auth(server: RunningServer) -> None:
    password = add_user(server)
    out = subprocess.run(
        [
            "swaks",
            "--server",
            f"127.0.0.1:{smtp_port(server)}",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "smtp-user-1",
            f"--auth-password={password}",  # generated passwords never start with "-" (an option to swaks)
            "--from",
            "swaks@example.com",
            "--to",
            "rcpt@example.com",
            "--header",
            "Subject: from swaks",
            "--body",
            "hello from swaks",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "250 2.0.0 OK id=" in out.stdout
    assert [m["subject"] for m in captured(server)] == ["from swaks"]


def test_ip_auth_sends_without_auth_as_the_ip(server: RunningServer) -> None:
    with server.client() as c:
        r = c.patch(
            "/v3/ip_auth/edit", json={"ip_address": "127.0.0.1"}, headers={"X-Smtp2go-Api-Key": server.key}
        )
    assert r.status_code == 200, r.text
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=10) as client:
        client.ehlo()
        code, reply = submit(client, "a@example.com", ["b@example.com"], message("by ip"))
    assert code == 250
    events = server.wait_for_events(reply.split("id=")[1], 2)
    assert {e["username"] for e in events} == {"127.0.0.1"}
    with server.client() as c:
        c.patch(
            "/v3/ip_auth/edit",
            json={"ip_address": "127.0.0.1", "status": "blocked"},
            headers={"X-Smtp2go-Api-Key": server.key},
        )
    with smtplib.SMTP("127.0.0.1", smtp_port(server), timeout=10) as client:
        client.ehlo()
        code, reply = client.mail("a@example.com")
    assert code == 550 and reply.decode().startswith("5.7.1")


def _greeting(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        return sock.makefile("rb").readline()


def _wait_greeting(port: int, prefix: bytes) -> bytes:
    for _ in range(50):
        line = _greeting(port)
        if line.startswith(prefix):
            return line
        time.sleep(0.1)
    raise AssertionError(f"greeting never started with {prefix!r}; last {line!r}")


def test_smtp_allow_list_refuses_other_ips_at_connect(server: RunningServer) -> None:
    port = smtp_port(server)
    assert server.post("ip_allow_list/add", {"ip_address": "10.0.0.0/8", "type": "smtp"}).status_code == 200
    assert server.post("ip_allow_list", {"enabled": True, "type": "smtp"}).json()["data"] == {"enabled": True}
    line = _wait_greeting(port, b"554")
    assert line.decode().rstrip() == replies.IP_NOT_ALLOWED.format(ip="127.0.0.1")
    assert server.post("ip_allow_list/add", {"ip_address": "127.0.0.0/8", "type": "smtp"}).status_code == 200
    assert _wait_greeting(port, b"220").startswith(b"220 localhost")


def test_control_characters_in_helo_and_addresses_are_refused(server: RunningServer) -> None:
    password = add_user(server)
    auth = base64.b64encode(b"\0smtp-user-1\0" + password.encode()).decode()
    with socket.create_connection(("127.0.0.1", smtp_port(server)), timeout=10) as sock:
        f = sock.makefile("rb")
        f.readline()
        sock.sendall(b"EHLO evil\rX-Injected: yes\r\n")
        assert f.readline().decode().rstrip() == replies.BAD_HELO
        sock.sendall(b"EHLO good.example\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        sock.sendall(f"AUTH PLAIN {auth}\r\n".encode())
        assert f.readline().startswith(b"235")
        sock.sendall(b"MAIL FROM:<a\rb@example.com>\r\n")
        assert f.readline().decode().rstrip() == replies.BAD_ADDRESS
        sock.sendall(b"MAIL FROM:<a@example.com>\r\n")
        assert f.readline().startswith(b"250")
        sock.sendall(b'RCPT TO:<"x\rBcc: y"@example.com>\r\n')
        assert f.readline().decode().rstrip() == replies.BAD_ADDRESS
    assert captured(server) == []
