"""The body of a webhook notification, as SMTP2GO's real callbacks carry it (reference §8.3, §8.5;
decisions.md: Webhooks), in `form` or `json` output.

Keys are hyphenated where SMTP2GO's are; `processed` is once per message with `recipients` and
`srchost` and no `rcpt`; every other event is per recipient with `rcpt`; deliveries, bounces and
rejects carry `host`, `message` and `context`; `id` is the notification's own id. Form output also
carries `Subject` and `Message-Id` beside `subject` and `message-id`, as the real callbacks do.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlencode

from postroom.dispatch.outbox import Notification

_HEADERS = BytesHeaderParser(policy=default_policy)


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sendtime(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _header(headers: Any, name: str) -> str:
    try:
        value = headers.get(name)
    except Exception:  # a header the policy cannot parse: its raw text
        value = None
    return "" if value is None else " ".join(str(value).split())


def _context(event: dict[str, Any], name: str) -> str:
    """The SMTP stage the answer came at, as SMTP2GO names it."""
    return f"RCPT TO:<{event['recipient']}>" if name == "bounce" else "Unavailable"


def build(notification: Notification) -> dict[str, Any]:
    """The payload's fields; list values (recipients) stay lists, encoded by `encode`."""
    event, message, hook, name = (
        notification.event_row,
        notification.message,
        notification.webhook,
        notification.event,
    )
    headers = _HEADERS.parsebytes(bytes(message.get("head") or b""))
    from_name, from_address = (getaddresses([message["from_header"]]) or [("", "")])[0]
    body: dict[str, Any] = {
        "event": name,
        "time": _time(event["created_at"]),
        "sendtime": _sendtime(message["created_at"]),
        "email_id": message["email_id"],
        "sender": message["sender"],
        "from": message["from_header"],
        "from_address": from_address,
        "from_name": from_name,
        "subject": message["subject"],
        "message-id": _header(headers, "Message-Id"),
        "auth": message["username"],
        "id": notification.id,
    }
    if name == "processed":
        body["recipients"] = notification.recipients or [event["recipient"]]
        body["srchost"] = message["client_ip"]
    else:
        body["rcpt"] = event["recipient"]
    if name in ("delivered", "bounce", "reject"):
        body["host"] = event["host"]
        body["message"] = event["smtp_response"] or event["reason"]
        body["context"] = _context(event, name)
    if name == "bounce":
        body["bounce"] = "hard" if event["event"] == "hard-bounced" else "soft"
    for header in hook["headers"] or []:
        if header.lower() not in ("subject", "message-id"):
            body[header] = _header(headers, header)
    return body


def encode(body: dict[str, Any], output_format: str) -> tuple[bytes, str]:
    """The request body and its Content-Type: form (list values repeated) or one JSON object."""
    if output_format == "json":
        return json.dumps(body, separators=(",", ":")).encode(), "application/json"
    fields = dict(body)
    fields["Subject"], fields["Message-Id"] = body["subject"], body["message-id"]
    return urlencode(fields, doseq=True).encode(), "application/x-www-form-urlencoded"
