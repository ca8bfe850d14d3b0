"""Shapes of the capture API (/api/v1/messages): query parameters and responses."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct, field


class ListQuery(Struct):
    to: str = ""
    from_: str = field(default="", name="from")
    subject: str = ""
    since: str = ""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 50
    cursor: str = ""


class MessageSummary(Struct):
    email_id: str
    created_at: str
    sender: str
    to: list[str]
    cc: list[str]
    subject: str
    size: int
    attachments: int


class MessageList(Struct):
    messages: list[MessageSummary]
    next_cursor: str | None


class MessageEvent(Struct):
    event: str
    recipient: str
    date: str
    smtp_response: str
    host: str


class MessageDetail(Struct):
    email_id: str
    created_at: str
    source: str
    username: str
    client_ip: str
    envelope: dict[str, Any]
    to: list[str]
    cc: list[str]
    bcc: list[str]
    reply_to: str
    subject: str
    size: int
    headers: list[dict[str, str]]
    parts: list[dict[str, Any]]
    attachments: list[dict[str, Any]]
    text: str
    html: str
    events: list[MessageEvent]
    from_: str = field(default="", name="from")
    # True when the body is withheld (Postroom's own mail outside capture mode, see service.py):
    # `text` then holds the explanation, and `html`, `parts` and `attachments` are empty
    body_withheld: bool = False
    # what the message was accepted with but is worth knowing (an unverified sender when the check is off)
    warnings: list[str] = field(default_factory=list)
