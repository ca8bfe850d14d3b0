"""Example request bodies of the OpenAPI document, by canonical path.

They show a reader a request that works, and they are the first requests schemathesis sends
(its examples phase): random strings are seldom a valid address, domain or MIME message, so
without them the success path of these endpoints would rarely be reached by the fuzzer.
"""

from __future__ import annotations

import base64
from typing import Any

MIME = (
    b"From: Sender <sender@example.com>\r\nTo: rcpt@example.net\r\nSubject: Hello\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from the example.\r\n"
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "/email/send": {
        "sender": "Sender <sender@example.com>",
        "to": ["Recipient <rcpt@example.net>"],
        "subject": "Hello",
        "text_body": "Hello from the example.",
        "html_body": "<p>Hello from the example.</p>",
    },
    "/email/mime": {"mime_email": base64.b64encode(MIME).decode()},
    "/email/batch": {
        "emails": [
            {"sender": "sender@example.com", "to": ["rcpt@example.net"], "subject": "1", "text_body": "x"},
            {"sender": "not an address", "to": ["rcpt@example.net"], "subject": "2", "text_body": "x"},
        ]
    },
    "/activity/search": {"limit": 10, "event_types": ["processed", "delivered"]},
    "/domain/add": {"domain": "example.org", "auto_verify": False},
    "/domain/view": {"domain": "example.org"},
    "/domain/verify": {"domain": "example.org"},
    "/domain/tracking": {"domain": "example.org", "old_subdomain": "link", "new_subdomain": "track"},
    "/domain/returnpath": {"domain": "example.org", "old_subdomain": "em", "new_subdomain": "bounces"},
    "/allowed_senders/add": {"allowed_senders": ["sender@example.com", "example.org"]},
    "/allowed_senders/remove": {"allowed_senders": ["example.org"]},
    "/allowed_recipients/add": {"allowed_recipients": ["rcpt@example.net"], "enabled": False},
    "/allowed_recipients/remove": {"allowed_recipients": ["rcpt@example.net"]},
    "/users/smtp/add": {"username": "example-user", "email_password": "a long password", "description": "x"},
    "/ip_auth/edit": {"ip_address": "192.0.2.10", "description": "office"},
    "/ip_allow_list/add": {"ip_address": "198.51.100.0/24", "description": "office", "type": "smtp"},
    "/single_sender_emails/add": {"email_address": "someone@example.com"},
    "/subaccount/add": {
        "fullname": "Example Subaccount",
        "subaccount_email": "sub@example.com",
        "limit": 100,
    },
    "/api_keys/add": {"description": "reporting", "endpoints": ["/activity/search"]},
}
