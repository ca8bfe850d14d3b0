"""Hostile and unusual input on the send path: always a 400 naming the field or a stored message, never a
500 and never a header the caller did not ask for."""

from __future__ import annotations

import asyncio
import base64
import email
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from conftest import RunningServer
from postroom.errors import PostroomError, StorageUnavailable
from postroom.features.api_keys.service import Principal, ensure_master_account
from postroom.features.email import repo
from postroom.features.email.schemas import BatchItemError, SendRequest, SendResult
from postroom.features.email.service import EmailService
from postroom.storage.tables import messages

BASE = {"sender": "Sender <s@example.com>", "to": ["t@example.com"], "subject": "Hello", "text_body": "Body"}
NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
# Every character str.splitlines() breaks at besides CR and LF, plus NUL, DEL and a C1 control.
BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\x7f", "\x9b"]


def _raw(server: RunningServer, email_id: str) -> bytes:
    with server.client() as c:
        r = c.get(f"/api/v1/messages/{email_id}/raw", headers={"X-Smtp2go-Api-Key": server.key})
    assert r.status_code == 200
    return r.content


def _parsed(server: RunningServer, email_id: str) -> EmailMessage:
    msg = email.message_from_bytes(_raw(server, email_id), policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def _detail(server: RunningServer, email_id: str) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(f"/api/v1/messages/{email_id}", headers={"X-Smtp2go-Api-Key": server.key})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def _stored_count(server: RunningServer) -> int:
    with server.client() as c:
        r = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key})
    return len(r.json()["messages"])


def _refused(r: Any, fieldname: str) -> str:
    assert r.status_code == 400, r.text
    data = r.json()["data"]
    assert data["error_code"] == NON_VALIDATING
    assert data["field_validation_errors"]["fieldname"] == fieldname
    message: str = data["field_validation_errors"]["message"]
    assert message
    return message


def _blob(content: bytes = b"data") -> str:
    return base64.b64encode(content).decode()


def _file(**fields: Any) -> dict[str, Any]:
    return {"filename": "a.bin", "fileblob": _blob(), **fields}


def _cases() -> list[tuple[str, dict[str, Any], str]]:
    cases: list[tuple[str, dict[str, Any], str]] = []
    for ch in BREAKS:
        name = f"U+{ord(ch):04X}"
        cases += [
            (f"subject {name}", {"subject": f"Hi{ch}Bcc: v@x.com"}, "subject"),
            (f"subject {name} spaced", {"subject": f"Hi{ch}Bcc : v@x.com"}, "subject"),
            (f"sender name {name}", {"sender": f'"A{ch}Bcc: v@x.com" <a@example.com>'}, "sender"),
            (f"to name {name}", {"to": [f"A{ch}B <t@example.com>"]}, "to"),
            (
                f"header value {name}",
                {"custom_headers": [{"header": "X-A", "value": f"1{ch}Bcc: v@x.com"}]},
                "custom_headers",
            ),
            (f"filename {name}", {"attachments": [_file(filename=f"a{ch}Bcc: v.txt")]}, "attachments"),
            (f"inline filename {name}", {"inlines": [_file(filename=f"a{ch}b.png")]}, "inlines"),
            (
                f"mimetype {name}",
                {"attachments": [_file(mimetype=f"text/plain{ch}Bcc: v@x.com")]},
                "attachments",
            ),
            (f"cid {name}", {"inlines": [_file(cid=f"x{ch}y")]}, "inlines"),
        ]
    cases += [
        ("rfc 2047 name hiding a break", {"to": ["=?utf-8?q?A=0BBcc:_v@x.com?= <t@example.com>"]}, "to"),
        ("NUL in text_body", {"text_body": "a\x00b"}, "text_body"),
        ("NUL in html_body", {"html_body": "<p>a\x00b</p>"}, "html_body"),
        ("cid with CRLF", {"inlines": [_file(cid="x>\r\nBcc: v@x.com")]}, "inlines"),
        ("cid with a space", {"inlines": [_file(cid="my logo")]}, "inlines"),
        ("cid with brackets inside", {"inlines": [_file(cid="a<b>c")]}, "inlines"),
        ("inline filename with a space and no cid", {"inlines": [_file(filename="my logo.png")]}, "inlines"),
        ("mimetype without subtype", {"attachments": [_file(mimetype="image")]}, "attachments"),
        ("mimetype with a space", {"attachments": [_file(mimetype="image/p ng")]}, "attachments"),
        ("mimetype with tspecials", {"attachments": [_file(mimetype="image/png>")]}, "attachments"),
        (
            "mimetype with a bad parameter",
            {"attachments": [_file(mimetype="text/plain; charset")]},
            "attachments",
        ),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize(("case", "fields", "fieldname"), CASES, ids=[c[0] for c in CASES])
def test_control_characters_are_refused(
    server: RunningServer, case: str, fields: dict[str, Any], fieldname: str
) -> None:
    _refused(server.post("email/send", {**BASE, **fields}), fieldname)


def test_nothing_was_stored_by_refused_sends_and_tab_is_allowed_in_text_headers(
    server: RunningServer,
) -> None:
    for _, fields, fieldname in CASES[:12]:
        _refused(server.post("email/send", {**BASE, **fields}), fieldname)
    assert _stored_count(server) == 0
    r = server.post(
        "email/send",
        {**BASE, "subject": "a\tb", "custom_headers": [{"header": "X-Tab", "value": "1\t2"}]},
    )
    assert r.status_code == 200, r.text
    msg = _parsed(server, r.json()["data"]["email_id"])
    assert msg["Subject"] == "a\tb" and msg["X-Tab"] == "1\t2" and msg["Bcc"] is None


BAD_OVERRIDES: list[tuple[str, str]] = [
    ("Message-ID", "<"),
    ("Message-ID", "no-brackets@example.com"),
    ("Message-ID", "<a b@example.com>"),
    ("To", '"'),
    ("To", "<"),
    ("To", "not an address"),
    ("Cc", "a@example.com, <"),
    ("Reply-To", "x@"),
    ("From", "Ann <ann@>"),
    ("Sender", "@example.com"),
    ("Date", "yesterday"),
    ("Date", "Mon, 32 Jan 2026 10:00:00 +0000"),
    ("Resent-Bcc", "a@example.com"),
    ("To", "ü@example.com"),
]


@pytest.mark.parametrize(("header", "value"), BAD_OVERRIDES, ids=[f"{h}: {v}" for h, v in BAD_OVERRIDES])
def test_overrides_of_generated_headers_must_parse(server: RunningServer, header: str, value: str) -> None:
    r = server.post("email/send", {**BASE, "custom_headers": [{"header": header, "value": value}]})
    _refused(r, "custom_headers")


def test_valid_overrides_are_kept_and_read_back(server: RunningServer) -> None:
    headers = [
        {"header": "Message-ID", "value": "<custom.1@example.com>"},
        {"header": "To", "value": "Team: a@example.com, B <b@example.com>;"},
        {"header": "Cc", "value": "Jürgen <j@bücher.example>"},
        {"header": "Date", "value": "Fri, 02 Jan 2026 15:04:05 +0000"},
        {"header": "Reply-To", "value": "John Q. Public <jqp@example.com>"},
    ]
    r = server.post("email/send", {**BASE, "custom_headers": headers})
    assert r.status_code == 200, r.text
    email_id = r.json()["data"]["email_id"]
    msg = _parsed(server, email_id)
    assert msg["Message-ID"] == "<custom.1@example.com>"
    assert msg["To"].addresses[1].addr_spec == "b@example.com"
    assert msg["Cc"].addresses[0].display_name == "Jürgen"
    assert msg["Cc"].addresses[0].addr_spec == "j@xn--bcher-kva.example"
    assert msg["Date"].datetime.year == 2026
    names = [h["name"] for h in _detail(server, email_id)["headers"]]
    assert names.count("Message-ID") == 1 and names.count("To") == 1


def test_non_ascii_addresses(server: RunningServer) -> None:
    r = server.post(
        "email/send", {**BASE, "sender": "Jürgen <j@bücher.example>", "to": ["Zoë <z@café.example>"]}
    )
    assert r.status_code == 200, r.text
    email_id = r.json()["data"]["email_id"]
    raw = _raw(server, email_id)
    assert raw.isascii()
    msg = _parsed(server, email_id)
    assert msg["From"].addresses[0].addr_spec == "j@xn--bcher-kva.example"
    assert msg["To"].addresses[0].display_name == "Zoë"
    assert msg["Message-ID"].endswith("@xn--bcher-kva.example>")
    message = _refused(server.post("email/send", {**BASE, "to": ["zoë@example.com"]}), "to")
    assert "non-ASCII local part" in message
    for bad in ("a\x00b@example.com", "a@exa\x7fmple.com", "a@" + "x" * 70 + "ü.example"):
        _refused(server.post("email/send", {**BASE, "to": [bad]}), "to")
    assert _stored_count(server) == 1


def test_attachment_types(server: RunningServer) -> None:
    attachments = [
        _file(filename="forwarded.eml"),
        _file(filename="x.bin", mimetype="message/rfc822"),
        _file(filename="y.bin", mimetype="multipart/mixed; boundary=zzz"),
        _file(filename="z.txt", mimetype="Text/Plain; charset=ISO-8859-1"),
        _file(filename="n.bin", mimetype=False),
    ]
    r = server.post("email/send", {**BASE, "attachments": attachments})
    assert r.status_code == 200, r.text
    msg = _parsed(server, r.json()["data"]["email_id"])
    files = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
    assert files["forwarded.eml"].get_content_type() == "application/octet-stream"
    assert files["x.bin"].get_content_type() == "application/octet-stream"
    assert files["y.bin"].get_content_type() == "application/octet-stream"
    assert files["y.bin"].get_param("boundary") is None
    assert files["z.txt"].get_content_type() == "text/plain"
    assert files["z.txt"].get_content_charset() == "iso-8859-1"
    assert all(p.get_payload(decode=True) == b"data" for p in files.values())


def test_wrapped_base64_is_accepted(server: RunningServer) -> None:
    content = bytes(range(256)) * 4
    wrapped = base64.encodebytes(content).decode()  # 76-character lines, as `base64` and PHP chunk_split
    assert "\n" in wrapped
    crlf = wrapped.replace("\n", "\r\n")
    r = server.post(
        "email/send",
        {
            **BASE,
            "attachments": [{"filename": "a.bin", "fileblob": wrapped}],
            "inlines": [{"filename": "i.png", "fileblob": crlf}],
        },
    )
    assert r.status_code == 200, r.text
    msg = _parsed(server, r.json()["data"]["email_id"])
    assert {p.get_filename(): p.get_payload(decode=True) for p in msg.walk() if p.get_filename()} == {
        "a.bin": content,
        "i.png": content,
    }
    mime = b"From: a@example.com\r\nTo: t@example.com\r\nSubject: wrapped\r\n\r\n" + b"line\r\n" * 30
    r = server.post("email/mime", {"mime_email": base64.encodebytes(mime).decode()})
    assert r.status_code == 200, r.text
    assert _raw(server, r.json()["data"]["email_id"]).endswith(b"line\r\n" * 30)
    _refused(server.post("email/send", {**BASE, "attachments": [_file(fileblob="AA AA A")]}), "attachments")


def _mime(server: RunningServer, raw: bytes) -> Any:
    return server.post("email/mime", {"mime_email": base64.b64encode(raw).decode()})


BAD_MIME: list[tuple[str, bytes]] = [
    ("quote in To", b'To: "'),
    ("bracket in To", b"To: <"),
    ("bad Message-ID", b"To: t@example.com\r\nMessage-ID: <"),
    ("bad Date", b"To: t@example.com\r\nDate: last tuesday"),
    ("8-bit address", b"To: z\xc3\xabe@example.com"),
    ("8-bit domain", b"To: z@caf\xc3\xa9.example"),
    ("8-bit name", b"To: Zo\xc3\xab <z@example.com>"),
    ("NUL in encoded subject", b"To: t@example.com\r\nSubject: =?utf-8?q?a=00b?="),
    ("vertical tab in encoded name", b"To: =?utf-8?q?A=0BBcc:_v@x.com?= <t@example.com>"),
    ("unparsable Cc", b"To: t@example.com\r\nCc: a@example.com, <"),
    ("bad Reply-To", b"To: t@example.com\r\nReply-To: <"),
]


@pytest.mark.parametrize(("case", "headers"), BAD_MIME, ids=[c[0] for c in BAD_MIME])
def test_mime_with_malformed_headers_is_400(server: RunningServer, case: str, headers: bytes) -> None:
    raw = b"From: a@example.com\r\n" + headers + b"\r\nSubject: s\r\n\r\nbody\r\n"
    _refused(_mime(server, raw), "mime_email")


def test_mime_strips_resent_bcc_and_records_attachments(server: RunningServer) -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "t@example.com"
    msg["Resent-Bcc"] = "hidden@example.com"
    msg["Subject"] = "files"
    msg.set_content("see attached")
    msg.add_attachment(b"%PDF" * 100, maintype="application", subtype="pdf", filename="r.pdf")
    msg.add_attachment(bytes(300), maintype="image", subtype="png", filename="Grüße.png")
    r = _mime(server, msg.as_bytes(policy=default.clone(linesep="\r\n")))
    assert r.status_code == 200, r.text
    email_id = r.json()["data"]["email_id"]
    assert b"hidden@example.com" not in _raw(server, email_id)
    with server.client() as c:
        listed = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key}).json()
    assert listed["messages"][0]["attachments"] == 2
    detail = _detail(server, email_id)
    assert [(a["filename"], a["size"]) for a in detail["attachments"]] == [("r.pdf", 400), ("Grüße.png", 300)]


def test_batch_reports_storage_failures_in_place(db: Any) -> None:
    """One item that fails to store (storage error or a bug) never hides the others that were stored."""
    account = db.write_sync(ensure_master_account)
    principal = Principal("api-0123456789AB", account, "Master account", ("*",))

    class FailingSecondAndThird(EmailService):
        async def store(self, message: repo.StoredMessage) -> repo.Accepted:
            if message.subject == "storage":
                raise StorageUnavailable("the database could not store the change: DataError")
            if message.subject == "bug":
                raise RuntimeError("boom")
            return await super().store(message)

    service = FailingSecondAndThird(db, 50 * 1024 * 1024)
    items: list[SendRequest | PostroomError] = [
        SendRequest(sender="s@example.com", to=["t@example.com"], subject=s, text_body="x")
        for s in ("first", "storage", "bug", "last")
    ]
    results = asyncio.run(service.send_batch(principal, items, "127.0.0.1"))
    assert [type(r) for r in results] == [SendResult, BatchItemError, BatchItemError, SendResult]
    first, storage, bug, last = results
    assert isinstance(first, SendResult) and isinstance(last, SendResult)
    assert first.email_id and last.email_id
    assert isinstance(storage, BatchItemError) and storage.email_id == "" and "DataError" in storage.error
    assert isinstance(bug, BatchItemError) and bug.failed == 1 and "boom" not in bug.error
    stored = db.read_sync(lambda c: c.execute(messages.select()).all())
    assert sorted(r.email_id for r in stored) == sorted([first.email_id, last.email_id])
