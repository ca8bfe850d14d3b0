"""The stored form of suppression entries and the keys a recipient is looked up by (pure functions),
and the lookup itself on both databases: a domain entry covers its subdomains, IDNA forms match."""

from __future__ import annotations

from typing import Any

import pytest

from postroom.clock import utcnow
from postroom.errors import InvalidInput
from postroom.features.api_keys import repo as keys_repo
from postroom.features.suppressions import repo
from postroom.features.suppressions.entries import keys_of, normalize


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("Ann <ann@example.com>", "ann@example.com"),
        ("  Example.com. ", "example.com"),
        ("@example.com", "example.com"),
        ("*@example.com", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a@bücher.example", "a@xn--bcher-kva.example"),
    ],
)
def test_entries_are_stored_lower_case_with_a_labels(given: str, stored: str) -> None:
    assert normalize("email_address", given) == stored


@pytest.mark.parametrize("bad", ["", "a b", "a@", "*.example.com", "com", "1.2.3.4", "a@b@c", "x" * 255])
def test_malformed_entries_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        normalize("email_address", bad)
    assert raised.value.field == "email_address"


def test_a_recipient_is_looked_up_by_itself_its_domain_and_parent_domains() -> None:
    assert keys_of("A@X.Mail.Example.com") == {
        "a@x.mail.example.com",
        "x.mail.example.com",
        "mail.example.com",
        "example.com",
    }
    assert "com" not in keys_of("a@example.com")  # a top-level domain alone is never an entry
    assert {"a@xn--bcher-kva.example", "xn--bcher-kva.example"} <= keys_of("a@bücher.example")


def test_the_lookup_covers_subdomains_and_other_accounts_are_apart(db: Any) -> None:
    def run(conn: Any) -> tuple[set[str], set[str]]:
        account = keys_repo.master_account_id(conn)
        assert account is not None
        now = utcnow()
        repo.add_many(conn, [repo.row(account, "blocked.example", "manual", "", None, now)])
        repo.add_many(conn, [repo.row(account, "xn--bcher-kva.example", "manual", "", None, now)])
        wanted = ["a@blocked.example", "B@Sub.Blocked.example", "c@unblocked.example", "d@bücher.example"]
        return repo.suppressed_among(conn, account, wanted), repo.suppressed_among(conn, "other", wanted)

    mine, theirs = db.write_sync(run)
    assert mine == {"a@blocked.example", "b@sub.blocked.example", "d@bücher.example"}
    assert theirs == set()
