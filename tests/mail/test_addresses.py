"""Address forms SMTP2GO clients send (reference §4.2), and what must be refused."""

from __future__ import annotations

import pytest

from postroom.mail.addresses import Address, AddressError, parse_address


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


@pytest.mark.parametrize(
    "text",
    [
        "a\x00b@example.com",
        "a@exam\x7fple.com",
        "a\x85b@example.com",
        "a@example.com\x0b",
        "A\x0bBcc: v@x.com <a@example.com>",
        '"A\u2028B" <a@example.com>',
        "=?utf-8?q?A=0CB?= <a@example.com>",
    ],
)
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_address(text)
    assert "control character" in caught.value.reason


def test_non_ascii_domains_are_idna_encoded() -> None:
    assert parse_address("Jürgen <j@Bücher.example>") == Address("j@xn--bcher-kva.example", "Jürgen")
    assert parse_address("z@café.example").domain == "xn--caf-dma.example"
    with pytest.raises(AddressError) as caught:
        parse_address("a@" + "x" * 70 + "ü.example")
    assert "IDNA" in caught.value.reason


def test_non_ascii_local_parts_are_refused_with_a_reason() -> None:
    with pytest.raises(AddressError) as caught:
        parse_address("zoë@example.com")
    assert "non-ASCII local part" in caught.value.reason
