"""Address forms SMTP2GO clients send (reference §4.2), and what must be refused."""

from __future__ import annotations

import pytest

from postroom.mail.addresses import Address, parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@example.com", Address("a@example.com")),
        ("<a@example.com>", Address("a@example.com")),
        ("Ann Example <a@example.com>", Address("a@example.com", "Ann Example")),
        ('"Example, Ann" <a@example.com>', Address("a@example.com", "Example, Ann")),
        ('"Quote \\" inside" <a@example.com>', Address("a@example.com", 'Quote " inside')),
        ("=?utf-8?q?J=C3=BCrgen?= <j@example.com>", Address("j@example.com", "Jürgen")),
        ("  spaced@example.com  ", Address("spaced@example.com")),
        ("first.last+tag@sub.example.co.uk", Address("first.last+tag@sub.example.co.uk")),
        ("dev@localhost", Address("dev@localhost")),
    ],
)
def test_accepted_forms(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plainword",
        "a@",
        "@example.com",
        "a@@example.com",
        "a b@example.com",
        "Name <>",
        "a@example.com, b@example.com",
        "a@example.com\r\nBcc: x@example.com",
        "<a@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example..com",
        "Name <a@example.com> trailing",
    ],
)
def test_refused_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_header_form_encodes_non_ascii_names() -> None:
    assert parse_address("Jürgen <j@example.com>").header() == "=?utf-8?q?J=C3=BCrgen?= <j@example.com>"
    assert parse_address("Ann <a@example.com>").header() == "Ann <a@example.com>"
