"""The official npm client `smtp2go-nodejs` 0.3.6, unchanged, under Node.js against a running Postroom.

The package is installed once into `.cache/npm-clients/` (git-ignored) and reused. The client is
pointed at the server through its public `apiUrl` property (reference §9); `send_with_node.js`
builds the message with the library's own API (`api.mail()`, `to/cc/bcc`, `MailAttachment`,
`inline()`) and prints what `client.consume()` returned.
"""

from __future__ import annotations

import json
import random
import subprocess
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from capture_api import (
    addr_specs,
    event_pairs,
    fetch_detail,
    fetch_message,
    fetch_raw,
    is_uuid,
    list_messages,
    parse,
    processed_and_delivered,
    text_of,
)

from conftest import RunningServer
from npm_packages import npm_package

PACKAGE = "smtp2go-nodejs"
VERSION = "0.3.6"
SCRIPT = Path(__file__).with_name("send_with_node.js")
NODE_TIMEOUT = 60


@pytest.fixture(scope="session")
def node_package() -> Path:
    """The folder whose node_modules holds smtp2go-nodejs 0.3.6, installed with npm when missing."""
    return npm_package(PACKAGE, VERSION, "npm-clients")


def run_node(package: Path, base_url: str, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run send_with_node.js; returns its JSON line ({"ok": …, "status"?: …, "body"?: …})."""
    done = subprocess.run(
        ["node", str(SCRIPT), str(package), base_url, key, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"node printed nothing (exit {done.returncode}): {done.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    assert "error" not in out, f"the script failed: {out['error']}\n{done.stderr}"
    return out


def assert_accepted(out: dict[str, Any]) -> str:
    """What consume() resolved with for an accepted send; returns the email_id."""
    assert out["ok"] is True, out
    body = out["body"]
    assert set(body) == {"request_id", "data"} and is_uuid(body["request_id"])
    data = body["data"]
    assert data["succeeded"] == 1 and data["failed"] == 0 and data["failures"] == []
    assert isinstance(data["email_id"], str) and data["email_id"]
    email_id: str = data["email_id"]
    return email_id


def _parents(msg: EmailMessage) -> dict[int, EmailMessage]:
    """id(part) → its enclosing multipart, for every part of the tree."""
    parents: dict[int, EmailMessage] = {}
    for part in msg.walk():
        if part.is_multipart():
            for child in part.iter_parts():
                assert isinstance(child, EmailMessage)
                parents[id(child)] = part
    return parents


def _ancestors(part: EmailMessage, parents: dict[int, EmailMessage]) -> list[EmailMessage]:
    out = []
    while id(part) in parents:
        part = parents[id(part)]
        out.append(part)
    return out


def test_mail_with_cc_bcc_attachment_and_inline(
    server: RunningServer, node_package: Path, tmp_path: Path
) -> None:
    attachment = random.Random(20260206).randbytes(3000)
    attachment_path = tmp_path / "payload.bin"
    attachment_path.write_bytes(attachment)
    image = b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(600)
    image_path = tmp_path / "logo.png"
    image_path.write_bytes(image)
    cid = "company-logo"
    text = "Plain part from smtp2go-nodejs."
    html = (
        f'<html><body><p>Hello from <b>smtp2go-nodejs</b></p><img src="cid:{cid}" alt="logo"></body></html>'
    )
    spec = {
        "from": {"email": "node.sender@example.com", "name": "Node Sender"},
        "to": [{"email": "to.person@example.com", "name": "To Person"}, {"email": "bare@example.net"}],
        "cc": [{"email": "cc.person@example.com", "name": "Cc Person"}],
        "bcc": [{"email": "hidden@example.org"}],
        "subject": "Node client: cc, bcc, attachment, inline",
        "text": text,
        "html": html,
        "headers": [{"header": "X-Node-Test", "value": "yes"}],
        "attachments": [str(attachment_path)],
        "inlines": [{"cid": cid, "path": str(image_path)}],
    }
    email_id = assert_accepted(run_node(node_package, server.v3, server.key, spec))

    raw = fetch_raw(server, email_id)
    assert b"hidden@example.org" not in raw
    msg = parse(raw)
    assert msg["Subject"] == "Node client: cc, bcc, attachment, inline"
    assert msg["From"].addresses[0].display_name == "Node Sender"
    assert addr_specs(msg, "From") == ["node.sender@example.com"]
    assert addr_specs(msg, "To") == ["to.person@example.com", "bare@example.net"]
    assert msg["To"].addresses[0].display_name == "To Person"
    assert addr_specs(msg, "Cc") == ["cc.person@example.com"]
    assert "Bcc" not in msg
    assert msg["X-Node-Test"] == "yes"

    detail = fetch_detail(server, email_id)
    assert detail["envelope"]["mail_from"] == "node.sender@example.com"
    assert sorted(detail["envelope"]["rcpt_to"]) == sorted(
        ["to.person@example.com", "bare@example.net", "cc.person@example.com", "hidden@example.org"]
    )
    assert detail["bcc"] == ["hidden@example.org"]

    # The attachment: the library's file name and MIME type, the exact bytes.
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["payload.bin"]
    [attached] = attachments
    assert isinstance(attached, EmailMessage)
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_content_type() == "application/octet-stream"
    assert attached.get_content() == attachment

    # The inline: Content-ID as the library sent it (the cid is its `filename`), inside
    # multipart/related together with the HTML that refers to it.
    inlines = [p for p in msg.walk() if p.get("Content-ID")]
    assert len(inlines) == 1
    inline = inlines[0]
    assert inline["Content-ID"] == f"<{cid}>"
    assert inline.get_content_type() == "image/png"
    assert inline.get_content_disposition() == "inline"
    assert inline.get_content() == image
    parents = _parents(msg)
    related = [p for p in _ancestors(inline, parents) if p.get_content_type() == "multipart/related"]
    assert related, [p.get_content_type() for p in _ancestors(inline, parents)]
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    assert related[0] in _ancestors(html_part, parents)
    assert text_of(html_part) == html
    plain = msg.get_body(preferencelist=("plain",))
    assert isinstance(plain, EmailMessage) and text_of(plain) == text

    events = server.wait_for_events(email_id, 8)
    assert event_pairs(events) == processed_and_delivered(
        ["to.person@example.com", "bare@example.net", "cc.person@example.com", "hidden@example.org"]
    )


def test_attachment_of_unknown_type(server: RunningServer, node_package: Path, tmp_path: Path) -> None:
    """For an extension `mime-types` does not know the library sends `"mimetype": false`."""
    content = random.Random(3).randbytes(512)
    path = tmp_path / "notes.zzqx"
    path.write_bytes(content)
    spec = {
        "from": {"email": "sender@example.com"},
        "to": [{"email": "to@example.com"}],
        "subject": "unknown type",
        "text": "see attached",
        "attachments": [str(path)],
    }
    email_id = assert_accepted(run_node(node_package, server.v3, server.key, spec))
    [attached] = list(fetch_message(server, email_id).iter_attachments())
    assert isinstance(attached, EmailMessage)
    assert attached.get_filename() == "notes.zzqx"
    assert attached.get_content_type() == "application/octet-stream"
    assert attached.get_content() == content


def test_generic_service_reads_activity(server: RunningServer, node_package: Path) -> None:
    spec = {
        "from": {"email": "sender@example.com"},
        "to": [{"email": "to@example.com"}],
        "subject": "then look it up",
        "html": "<p>html only</p>",
    }
    email_id = assert_accepted(run_node(node_package, server.v3, server.key, spec))
    server.wait_for_events(email_id, 2)
    lookup = {"action": "service", "endpoint": "activity/search", "body": {"search_email_id": email_id}}
    out = run_node(node_package, server.v3, server.key, lookup)
    assert out["ok"] is True, out
    assert is_uuid(out["body"]["request_id"])
    events = out["body"]["data"]["events"]
    assert event_pairs(events) == processed_and_delivered(["to@example.com"])
    assert {e["email_id"] for e in events} == {email_id}


@pytest.mark.parametrize(
    ("key", "error_code"),
    [
        pytest.param("api-" + "0" * 32, "E_ApiResponseCodes.API_EXCEPTION", id="unknown-key"),
        pytest.param("not-an-smtp2go-key", "E_ApiResponseCodes.INVALID_IN_PAYLOAD", id="malformed-key"),
    ],
)
def test_bad_key_is_returned_as_error_response(
    server: RunningServer, node_package: Path, key: str, error_code: str
) -> None:
    spec = {
        "from": {"email": "sender@example.com"},
        "to": [{"email": "to@example.com"}],
        "subject": "refused",
        "text": "refused",
    }
    out = run_node(node_package, server.v3, key, spec)
    assert out["ok"] is False and out["status"] == 401, out
    assert is_uuid(out["body"]["request_id"])
    assert out["body"]["data"]["error_code"] == error_code
    assert out["body"]["data"]["error"]
    assert list_messages(server) == []
