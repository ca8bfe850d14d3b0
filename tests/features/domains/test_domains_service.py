"""Sender domains against a real database: adding with a new key, conflicts, listing, the keyring."""

from __future__ import annotations

import re
from typing import Any

import dkim
import pytest

from postroom.errors import Conflict, InvalidInput
from postroom.features.api_keys import repo as keys_repo
from postroom.features.domains import service
from postroom.features.domains.service import DkimKeyring, DomainService, normalize_domain
from postroom.ids import new_account_id

MESSAGE = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nHello\r\n"


def _account(db: Any) -> str:
    account_id = db.read_sync(keys_repo.master_account_id)
    assert isinstance(account_id, str)
    return account_id


def _other_account(db: Any) -> str:
    from postroom.clock import utcnow

    account_id = new_account_id()
    db.write_sync(lambda c: keys_repo.insert_account(c, account_id, "Other account", utcnow()))
    return account_id


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  mail.example.co.uk ", "mail.example.co.uk"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-1.example", "a-1.example"),
    ],
)
def test_normalize_domain(given: str, stored: str) -> None:
    assert normalize_domain(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "",
        ".",
        "localhost",
        "example..com",
        "-example.com",
        "example-.com",
        "exa mple.com",
        "exa_mple.com",
        "user@example.com",
        "192.0.2.1",
        "example.com..",
        "a" * 64 + ".example",
        ("a" * 60 + ".") * 5 + "example",
        "[example.com]",
        "example.com/path",
    ],
)
def test_not_a_domain_is_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_domain(bad)
    assert caught.value.field == "domain"


async def test_add_domain_makes_a_key_that_verifies(db: Any) -> None:
    domains = DomainService(db)
    record = await domains.add_domain(_account(db), "Example.com.")
    assert record.domain == "example.com" and record.return_path_domain == ""
    assert re.fullmatch(r"postroom-\d{8}-[0-9a-f]{4}", record.dkim_selector)
    assert record.dkim_record_name == f"{record.dkim_selector}._domainkey.example.com"
    assert record.dkim_record_value == f"v=DKIM1; k=rsa; p={record.dkim_public_key}"

    keyring = DkimKeyring(db)
    await keyring.refresh()
    signed = keyring.sign(MESSAGE, "example.com")
    assert signed.endswith(MESSAGE) and signed.startswith(b"DKIM-Signature:")

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        wanted = record.dkim_record_name + "."
        return record.dkim_record_value.encode() if name.decode() == wanted else None

    assert dkim.verify(signed, dnsfunc=txt)


async def test_a_domain_is_unique_across_accounts(db: Any) -> None:
    domains = DomainService(db)
    await domains.add_domain(_account(db), "example.com")
    with pytest.raises(Conflict):
        await domains.add_domain(_account(db), "EXAMPLE.com")
    with pytest.raises(Conflict):
        await domains.add_domain(_other_account(db), "example.com.")


async def test_invalid_domain_is_refused_before_a_key_is_made(db: Any) -> None:
    with pytest.raises(InvalidInput):
        await DomainService(db).add_domain(_account(db), "not a domain")


async def test_list_domains_shows_only_the_accounts_own_by_name(db: Any) -> None:
    domains = DomainService(db)
    mine, other = _account(db), _other_account(db)
    await domains.add_domain(mine, "b.example")
    await domains.add_domain(mine, "a.example")
    await domains.add_domain(other, "c.example")
    assert [r.domain for r in await domains.list_domains(mine)] == ["a.example", "b.example"]
    assert [r.domain for r in await domains.list_domains(other)] == ["c.example"]
    assert await domains.list_domains(new_account_id()) == []
    listed = {r.domain: r for r in db.read_sync(lambda c: service.list_domains(c, mine))}
    assert listed["a.example"].dkim_public_key == (await domains.list_domains(mine))[0].dkim_public_key


async def test_keyring_matches_exact_domains_only(db: Any) -> None:
    keyring = DkimKeyring(db)
    domains = DomainService(db, keyring)
    await domains.add_domain(_account(db), "example.com")
    await domains.add_domain(_account(db), "bücher.example")
    key = keyring.lookup("example.com")  # refreshed by add_domain
    assert key is not None and key.domain == "example.com" and key.selector.startswith("postroom-")
    assert keyring.lookup("EXAMPLE.COM.") is key
    assert keyring.signing_key_for("Alice@Example.com") is key
    assert keyring.signing_key_for("example.com") is key
    assert keyring.lookup("news.example.com") is None  # no parent-domain fallback
    assert keyring.lookup("example.org") is None and keyring.lookup("") is None
    assert keyring.signing_key_for("x@bücher.example") is keyring.lookup("xn--bcher-kva.example") is not None
    assert keyring.lookup("\udcff.example") is None
    assert keyring.sign(MESSAGE, "example.org") == MESSAGE


async def test_keyring_refresh_sees_new_domains_and_skips_damaged_keys(db: Any) -> None:
    from sqlalchemy import update

    from postroom.storage.tables import sender_domains

    keyring = DkimKeyring(db)
    keyring.refresh_sync()
    assert keyring.lookup("example.com") is None
    account_id = _account(db)
    for name in ("example.com", "broken.example"):
        new = service.new_domain(name)
        db.write_sync(lambda c, new=new: service.insert_domain(c, account_id, new))
    db.write_sync(
        lambda c: c.execute(
            update(sender_domains)
            .where(sender_domains.c.domain == "broken.example")
            .values(dkim_private_key="not a key")
        )
    )
    await keyring.refresh()
    assert keyring.lookup("example.com") is not None and keyring.lookup("broken.example") is None


async def test_an_unsignable_message_is_sent_unsigned(db: Any) -> None:
    keyring = DkimKeyring(db)
    await DomainService(db, keyring).add_domain(_account(db), "example.com")
    garbled = b" starts with a continuation\r\nFrom: a@example.com\r\n\r\nx\r\n"
    assert keyring.sign(garbled, "example.com") == garbled
