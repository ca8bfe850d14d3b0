"""/v3/email/send end to end: every field, every address form, and every kind of bad input."""

from __future__ import annotations

import base64
import email
import os
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from conftest import RunningServer

BASE = {"sender": "Sender <s@example.com>", "to": ["t@example.com"], "subject": "Hello", "text_body": "Body"}
NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"


def _raw(server: RunningServer, email_id: str) -> bytes:
    with server.client() as c:
        r = c.get(f"/api/v1/messages/{email_id}/raw", headers={"X-Smtp2go-Api-Key": server.key})
    assert r.status_code == 200
    assert r.headers["content-type"] == "message/rfc822"
    return r.content


def _parsed(server: RunningServer, email_id: str) -> EmailMessage:
    msg = email.message_from_bytes(_raw(server, email_id), policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def _send(server: RunningServer, **fields: Any) -> dict[str, Any]:
    r = server.post("email/send", {**BASE, **fields})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def _stored_count(server: RunningServer) -> int:
    with server.client() as c:
        r = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key})
    return len(r.json()["messages"])


def test_full_send_builds_the_message(server: RunningServer) -> None:
    pdf = os.urandom(5000)
    png = os.urandom(700)
    data = _send(
        server,
        sender='"Ann Example" <ann@example.com>',
        to=["<t1@example.com>", "T Two <t2@example.com>"],
        cc=["c@example.com"],
        bcc=["hidden@example.com"],
        subject="Grüße ✓",
        html_body='<p>Hi <img src="cid:logo"></p>',
        text_body="Hi",
        reply_to="reply@example.com",
        custom_headers=[{"header": "X-Campaign", "value": "42"}],
        attachments=[
            {"filename": "a.pdf", "fileblob": base64.b64encode(pdf).decode(), "mimetype": "application/pdf"}
        ],
        inlines=[
            {"filename": "logo.png", "fileblob": base64.b64encode(png).decode(), "mimetype": "image/png"}
        ],
    )
    assert data == {"succeeded": 1, "failed": 0, "failures": [], "email_id": data["email_id"]}
    msg = _parsed(server, data["email_id"])
    assert msg["From"] == "Ann Example <ann@example.com>"
    assert msg["To"] == "t1@example.com, T Two <t2@example.com>"
    assert msg["Cc"] == "c@example.com" and msg["Bcc"] is None
    assert msg["Reply-To"] == "reply@example.com"
    assert msg["Subject"] == "Grüße ✓" and msg["X-Campaign"] == "42"
    assert msg["Message-ID"].endswith("@example.com>") and msg["Date"]
    files = {p.get_filename(): p for p in msg.walk() if p.get_filename()}
    assert files["a.pdf"].get_content() == pdf
    assert files["logo.png"].get_content() == png and files["logo.png"]["Content-ID"] == "<logo.png>"
    events = server.wait_for_events(data["email_id"], 8)
    assert {e["recipient"] for e in events} == {
        "t1@example.com",
        "t2@example.com",
        "c@example.com",
        "hidden@example.com",
    }


def test_version_1_and_2_trees(server: RunningServer) -> None:
    v1 = _parsed(server, _send(server, html_body="<b>x</b>", version=1)["email_id"])
    v2 = _parsed(server, _send(server, html_body="<b>x</b>", version=2)["email_id"])
    assert v1.get_content_type() == v2.get_content_type() == "multipart/alternative"
    inline = [{"filename": "i.png", "fileblob": base64.b64encode(b"png").decode()}]
    v1 = _parsed(server, _send(server, html_body="<b>x</b>", version=1, inlines=inline)["email_id"])
    v2 = _parsed(server, _send(server, html_body="<b>x</b>", version=2, inlines=inline)["email_id"])
    assert v1.get_content_type() == "multipart/alternative"
    assert v2.get_content_type() == "multipart/related"


def test_text_part_generated_from_html(server: RunningServer) -> None:
    msg = _parsed(
        server, _send(server, text_body=None, html_body="<h1>Title</h1><p>Para <b>bold</b></p>")["email_id"]
    )
    text = msg.get_body(("plain",))
    assert text is not None and "Title" in text.get_content() and "<b>" not in text.get_content()


def test_fastaccept_answers_email_id_only(server: RunningServer) -> None:
    data = _send(server, fastaccept=True)
    assert list(data) == ["email_id"]
    assert _parsed(server, data["email_id"])["Subject"] == "Hello"


def test_nulls_and_empty_strings_mean_absent(server: RunningServer) -> None:
    # What the Go and .NET clients send: every field, unset ones as null or "".
    data = _send(
        server,
        cc=None,
        bcc=[],
        html_body=None,
        template_id="",
        template_data=None,
        attachments=None,
        inlines=[],
        custom_headers=[],
        schedule="",
        version=None,
        fastaccept=None,
    )
    assert data["succeeded"] == 1


def test_ten_megabyte_attachment_round_trips(server: RunningServer) -> None:
    blob = os.urandom(10 * 1024 * 1024)
    data = _send(server, attachments=[{"filename": "big.bin", "fileblob": base64.b64encode(blob).decode()}])
    msg = _parsed(server, data["email_id"])
    part = next(p for p in msg.walk() if p.get_filename() == "big.bin")
    assert part.get_content() == blob


def test_batch_items_in_order_each_validated(server: RunningServer) -> None:
    r = server.post(
        "email/batch", {"emails": [BASE, {**BASE, "sender": "nope"}, {**BASE, "subject": "third"}]}
    )
    assert r.status_code == 200
    items = r.json()["data"]
    assert [i["succeeded"] for i in items] == [1, 0, 1]
    assert items[1]["email_id"] == "" and items[1]["field_validation_errors"]["fieldname"] == "sender"
    assert _parsed(server, items[2]["email_id"])["Subject"] == "third"


def test_mime_send_strips_bcc_and_keeps_it_as_envelope_recipient(server: RunningServer) -> None:
    raw = (
        b"From: Ann <ann@example.com>\r\nTo: t@example.com\r\nCc: c@example.com\r\n"
        b"Bcc: secret@example.com,\r\n other@example.com\r\nSubject: mime\r\n\r\nbody\r\n"
    )
    r = server.post("email/mime", {"mime_email": base64.b64encode(raw).decode()})
    data = r.json()["data"]
    assert r.status_code == 200 and data["succeeded"] == 1
    stored = _raw(server, data["email_id"])
    assert b"secret@example.com" not in stored and b"other@example.com" not in stored
    assert stored.endswith(b"Subject: mime\r\n\r\nbody\r\n") and b"Message-ID:" in stored
    with server.client() as c:
        detail = c.get(
            f"/api/v1/messages/{data['email_id']}", headers={"X-Smtp2go-Api-Key": server.key}
        ).json()
    assert sorted(detail["envelope"]["rcpt_to"]) == sorted(
        ["t@example.com", "c@example.com", "secret@example.com", "other@example.com"]
    )


def test_mime_send_refuses_bad_base64_and_missing_recipients(server: RunningServer) -> None:
    r = server.post("email/mime", {"mime_email": "%%%"})
    assert r.status_code == 400 and r.json()["data"]["field_validation_errors"]["fieldname"] == "mime_email"
    r = server.post("email/mime", {"mime_email": base64.b64encode(b"From: a@example.com\r\n\r\nx").decode()})
    assert r.status_code == 400
    assert _stored_count(server) == 0


BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("missing sender", {"sender": None}, "sender"),
    ("malformed sender", {"sender": "not an address"}, "sender"),
    ("malformed recipient", {"to": ["ok@example.com", "bad@"]}, "to"),
    ("malformed cc", {"cc": ["x y@example.com"]}, "cc"),
    ("101 recipients", {"to": [f"r{i}@example.com" for i in range(101)]}, "to"),
    ("101 bcc", {"bcc": [f"r{i}@example.com" for i in range(101)]}, "bcc"),
    ("no body and no template", {"text_body": "", "html_body": None}, "text_body"),
    (
        "forbidden header",
        {"custom_headers": [{"header": "Content-Type", "value": "text/html"}]},
        "custom_headers",
    ),
    (
        "header injection in value",
        {"custom_headers": [{"header": "X-A", "value": "1\r\nBcc: x@example.com"}]},
        "custom_headers",
    ),
    (
        "header injection in name",
        {"custom_headers": [{"header": "X-A:\r\nBcc", "value": "1"}]},
        "custom_headers",
    ),
    ("header injection in subject", {"subject": "Hi\r\nBcc: x@example.com"}, "subject"),
    ("header injection in sender name", {"sender": '"A\r\nBcc: x@example.com" <a@example.com>'}, "sender"),
    ("invalid base64", {"attachments": [{"filename": "a.bin", "fileblob": "not base64!"}]}, "attachments"),
    ("attachment without blob", {"attachments": [{"filename": "a.bin"}]}, "attachments"),
    ("attachment without filename", {"attachments": [{"fileblob": "AAAA"}]}, "attachments[0].filename"),
    ("version 3", {"version": 3}, "version"),
]


@pytest.mark.parametrize(("case", "fields", "fieldname"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_a_field_error_and_stores_nothing(
    server: RunningServer, case: str, fields: dict[str, Any], fieldname: str
) -> None:
    r = server.post("email/send", {**BASE, **fields})
    assert r.status_code == 400, r.text
    data = r.json()["data"]
    assert data["error_code"] == NON_VALIDATING
    assert data["field_validation_errors"]["fieldname"] == fieldname
    assert data["field_validation_errors"]["message"]
    assert _stored_count(server) == 0


WRONG_TYPES: dict[str, Any] = {
    "sender": 5,
    "to": "t@example.com",
    "cc": {"a": 1},
    "bcc": 7,
    "subject": ["x"],
    "text_body": 1,
    "html_body": True,
    "custom_headers": "X: y",
    "attachments": {"filename": "x"},
    "inlines": 3,
    "template_id": 12.5,
    "template_data": 5,
    "fastaccept": "maybe",
    "version": "two",
    "reply_to": 9,
    "schedule": [1],
}


@pytest.mark.parametrize("field", sorted(WRONG_TYPES))
def test_wrong_type_for_every_field(server: RunningServer, field: str) -> None:
    r = server.post("email/send", {**BASE, field: WRONG_TYPES[field]})
    assert r.status_code == 400, r.text
    assert r.json()["data"]["field_validation_errors"]["fieldname"] == field
    assert _stored_count(server) == 0


def test_unknown_template_is_404_and_schedule_is_refused_for_now(server: RunningServer) -> None:
    r = server.post("email/send", {**BASE, "template_id": "welcome"})
    assert r.status_code == 404 and "welcome" in r.json()["data"]["error"]
    r = server.post("email/send", {**BASE, "schedule": "2030-01-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["data"]["field_validation_errors"]["fieldname"] == "schedule"
    assert _stored_count(server) == 0


def test_unknown_fields_are_ignored(server: RunningServer) -> None:
    assert _send(server, something_new="x", region="eu")["succeeded"] == 1
