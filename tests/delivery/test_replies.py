"""Reply classification: the table every outbound outcome goes through (RFC 5321 §4.2, RFC 3463)."""

from __future__ import annotations

import pytest

from postroom.delivery.replies import Reply, Stage, classify, is_too_many_recipients, parse


@pytest.mark.parametrize(
    ("code", "message", "stage", "kind", "text"),
    [
        (250, "2.0.0 Ok: queued as 4BC1", "data", "delivered", "250 2.0.0 Ok: queued as 4BC1"),
        (
            251,
            "2.1.5 User not local; will forward",
            "rcpt",
            "delivered",
            "251 2.1.5 User not local; will forward",
        ),
        (250, "OK", "data", "delivered", "250 OK"),  # no enhanced code: the text as sent
        (421, "4.3.2 Service shutting down", "mail", "deferred", "421 4.3.2 Service shutting down"),
        (450, "4.2.1 Mailbox busy", "rcpt", "deferred", "450 4.2.1 Mailbox busy"),
        (451, "4.7.1 Greylisted, try again", "rcpt", "deferred", "451 4.7.1 Greylisted, try again"),
        (452, "4.5.3 Too many recipients", "rcpt", "deferred", "452 4.5.3 Too many recipients"),
        (550, "5.1.1 <x@y>: user unknown", "rcpt", "bounced", "550 5.1.1 <x@y>: user unknown"),
        (551, "5.1.6 User has moved", "rcpt", "bounced", "551 5.1.6 User has moved"),
        (
            552,
            "5.5.3 Too many recipients",
            "rcpt",
            "deferred",
            "552 5.5.3 Too many recipients",
        ),  # §4.5.3.1.10
        (552, "5.3.4 Message too big", "data", "bounced", "552 5.3.4 Message too big"),
        (553, "5.1.3 Bad address syntax", "mail", "bounced", "553 5.1.3 Bad address syntax"),
        (554, "5.7.1 Spam detected", "data", "bounced", "554 5.7.1 Spam detected"),
        (
            556,
            "5.1.10 Recipient address has null MX",
            "rcpt",
            "bounced",
            "556 5.1.10 Recipient address has null MX",
        ),
        (550, "Mailbox unavailable", "rcpt", "bounced", "550 Mailbox unavailable"),
        (
            554,
            "5.7.1 Blocked\n5.7.1 see https://example.test",
            "connect",
            "bounced",
            "554 5.7.1 Blocked see https://example.test",
        ),  # multi-line (RFC 2034 §4): one enhanced code kept
        (600, "weird", "data", "deferred", "600 weird"),  # outside RFC 5321's classes: not final
    ],
)
def test_classification_table(code: int, message: str, stage: Stage, kind: str, text: str) -> None:
    reply = parse(code, message)
    assert classify(reply, stage) == kind
    assert str(reply) == text


def test_parse_splits_the_enhanced_code() -> None:
    assert parse(550, "5.1.1 <x@y>: user unknown") == Reply(550, "5.1.1", "<x@y>: user unknown")
    assert parse(250, "2.0.0") == Reply(250, "2.0.0", "")
    assert parse(250, "20.0.0 not an enhanced code") == Reply(250, "", "20.0.0 not an enhanced code")
    assert parse(451, "") == Reply(451, "", "") and str(parse(451, "")) == "451"


def test_too_many_recipients_is_452_or_552() -> None:
    assert is_too_many_recipients(parse(452, "4.5.3 Too many recipients"))
    assert is_too_many_recipients(parse(552, "Too many recipients"))
    assert not is_too_many_recipients(parse(450, "4.2.1 busy"))
