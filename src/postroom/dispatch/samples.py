"""Sample notifications for `POST /api/v1/webhooks/{id}/test`: one of each event the webhook takes,
built from made-up message and event rows so that its payload is exactly what real ones look like."""

from __future__ import annotations

import secrets
from typing import Any

from postroom.clock import utcnow
from postroom.dispatch.outbox import Notification

TOKEN = {
    "processed": "processed",
    "delivered": "delivered",
    "bounce": "hard-bounced",
    "reject": "rejected",
    "spam": "spam",
    "unsubscribe": "unsubscribed",
    "resubscribe": "resubscribed",
    "open": "opened",
    "click": "clicked",
}
RECIPIENT = "recipient@example.com"


def samples(hook: dict[str, Any]) -> list[Notification]:
    now = utcnow()
    email_id = "test-" + secrets.token_hex(8)
    head = (
        "From: Postroom test <test@postroom.test>\r\nTo: recipient@example.com\r\n"
        "Subject: Postroom webhook test\r\n"
        f"Message-ID: <{email_id}@postroom.test>\r\n\r\n"
    ).encode()
    message = {
        "email_id": email_id,
        "created_at": now,
        "sender": "test@postroom.test",
        "from_header": "Postroom test <test@postroom.test>",
        "subject": "Postroom webhook test",
        "username": "webhook-test",
        "client_ip": "127.0.0.1",
        "head": head,
    }
    found = []
    for seq, name in enumerate(hook["events"], start=1):
        event = {
            "email_id": email_id,
            "recipient": RECIPIENT,
            "event": TOKEN.get(name, name),
            "created_at": now,
            "host": "mx.example.com [192.0.2.7]" if name in ("delivered", "bounce") else "",
            "smtp_response": {"delivered": "250 2.0.0 OK test", "bounce": "550 5.1.1 test"}.get(name, ""),
            "reason": "the recipient is on the suppression list" if name == "reject" else "",
        }
        found.append(Notification(-seq, secrets.token_hex(16), name, 0, event, message, [RECIPIENT], hook))
    return found
