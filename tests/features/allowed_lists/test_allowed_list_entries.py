"""Entries and snapshots on their own: what an entry may be, how it is stored, and what it matches."""

from __future__ import annotations

import pytest

from postroom.errors import InvalidInput
from postroom.features.allowed_lists.entries import OFF, Snapshot, listed, normalize_entries, normalize_entry


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  ann@example.com ", "ann@example.com"),
        ("Ann <ann@example.com>", "ann@example.com"),
        ("ann@bücher.example", "ann@xn--bcher-kva.example"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("@example.com", "example.com"),
        ("*@Example.com", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("mail.example.com", "mail.example.com"),
    ],
)
def test_entries_are_stored_lower_case_with_a_labels(text: str, stored: str) -> None:
    assert normalize_entry("allowed_senders", text) == stored


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ann@",
        "@",
        "a@@example.com",
        "localhost",
        "exa mple.com",
        "*.example.com",
        "192.0.2.1",
        "a@exa_mple.com",
        "-bad.example",
        "a\r\n@example.com",
        "a..b@example.com",
    ],
)
def test_bad_entries_are_field_errors(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize_entry("allowed_recipients", text)
    assert raised.value.field == "allowed_recipients"
    assert "allowed_recipients" in raised.value.message


def test_duplicates_are_dropped_in_order() -> None:
    assert normalize_entries("f", ["B.example", "a@x.example", "b.example", "A@X.example"]) == [
        "b.example",
        "a@x.example",
    ]


def test_matching_is_by_address_or_exact_domain_ignoring_case() -> None:
    entries = frozenset({"ann@example.com", "example.org", "xn--bcher-kva.example"})
    assert listed(entries, "Ann@EXAMPLE.com")
    assert listed(entries, "anyone@Example.ORG")
    assert listed(entries, "x@BÜCHER.example") and listed(entries, "x@xn--bcher-kva.example")
    assert not listed(entries, "bob@example.com")
    assert not listed(entries, "ann@mail.example.com")  # no subdomains
    assert not listed(entries, "x@sub.example.org")
    assert not listed(entries, "") and not listed(entries, "example.org")  # not an address
    assert not listed(frozenset(), "ann@example.com")


def test_sender_modes() -> None:
    assert OFF.sender_refusal("anyone@example.com") is None and not OFF.restricts_senders
    white = Snapshot("whitelist", frozenset({"ok.example"}))
    assert white.sender_refusal("a@OK.example") is None
    assert white.sender_refusal("a@other.example") == (
        "Sender 'a@other.example' is not an allowed sender for this account"
    )
    assert white.sender_refusal("") == "Sender '<>' is not an allowed sender for this account"
    black = Snapshot("blacklist", frozenset({"bad@example.com"}))
    assert black.sender_refusal("Bad@example.com") == (
        "Sender 'Bad@example.com' is a blocked sender for this account"
    )
    assert black.sender_refusal("good@example.com") is None and black.restricts_senders
    assert Snapshot("disabled", frozenset({"bad@example.com"})).sender_refusal("x@y.example") is None


def test_recipients_refused_one_by_one_only_while_enabled() -> None:
    on = Snapshot(recipients_enabled=True, recipients=frozenset({"ok.example", "ann@example.com"}))
    assert on.recipient_refusals(["a@ok.example", "Ann@example.com", "bob@example.com"]) == {
        "bob@example.com": "Recipient 'bob@example.com' is not an allowed recipient for this account"
    }
    assert Snapshot(recipients=frozenset()).recipient_refusals(["bob@example.com"]) == {}
    assert Snapshot(recipients_enabled=True).recipient_refusals(["a@b.example"]).keys() == {"a@b.example"}
