"""Reading back what a client sent: the capture API (/api/v1/messages) and the raw message re-parsed."""

from __future__ import annotations

import email
import email.policy
import uuid
from email.message import EmailMessage
from typing import Any

from conftest import RunningServer


def _auth(server: RunningServer) -> dict[str, str]:
    return {"X-Smtp2go-Api-Key": server.key}


def fetch_raw(server: RunningServer, email_id: str) -> bytes:
    with server.client() as c:
        r = c.get(f"/api/v1/messages/{email_id}/raw", headers=_auth(server))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("message/rfc822")
    raw: bytes = r.content
    return raw


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert not msg.defects, msg.defects
    return msg


def fetch_message(server: RunningServer, email_id: str) -> EmailMessage:
    """The captured message, as Python's `email` package reads it."""
    return parse(fetch_raw(server, email_id))


def fetch_detail(server: RunningServer, email_id: str) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(f"/api/v1/messages/{email_id}", headers={"Authorization": f"Bearer {server.key}"})
    assert r.status_code == 200, r.text
    detail: dict[str, Any] = r.json()
    return detail


def list_messages(server: RunningServer) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get("/api/v1/messages", headers=_auth(server))
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


def addr_specs(msg: EmailMessage, header: str) -> list[str]:
    """The bare addresses of an address header, in order ([] when the header is absent)."""
    value = msg[header]
    if value is None:
        return []
    return [a.addr_spec for a in value.addresses]


def text_of(part: EmailMessage) -> str:
    """A text part's decoded content with line endings normalised to \\n and the final newline dropped."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n").rstrip("\n")


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def processed_and_delivered(recipients: list[str]) -> list[tuple[str, str]]:
    """The sorted (recipient, event) pairs expected in capture mode: processed then delivered for each."""
    return sorted((r, kind) for r in recipients for kind in ("processed", "delivered"))


def event_pairs(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((e["recipient"], e["event"]) for e in events)
