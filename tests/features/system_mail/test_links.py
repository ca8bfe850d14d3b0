"""Signed links: genuine, unexpired tokens for the right purpose verify; anything altered does not."""

from __future__ import annotations

import base64
import json
from typing import Any

from postroom.features.system_mail.links import LinkSigner


async def test_a_signed_token_verifies_with_its_claims(db: Any) -> None:
    links = LinkSigner(db)
    token = await links.sign("invite", "34l8oj", "n1", 3600)
    claims = await links.verify(token, "invite")
    assert claims is not None
    assert (claims.purpose, claims.subject, claims.nonce) == ("invite", "34l8oj", "n1")


async def test_another_process_sharing_the_database_accepts_it(db: Any) -> None:
    token = await LinkSigner(db).sign("invite", "34l8oj", "n1", 3600)
    assert await LinkSigner(db).verify(token, "invite") is not None


async def test_wrong_purpose_expiry_and_tampering_are_refused(db: Any) -> None:
    links = LinkSigner(db)
    token = await links.sign("single_sender", "7", "n1", 3600)
    assert await links.verify(token, "invite") is None
    expired = await links.sign("single_sender", "7", "n1", -1)
    assert await links.verify(expired, "single_sender") is None
    head, _, mac = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    payload["s"] = "8"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode() + "." + mac
    assert await links.verify(forged, "single_sender") is None
    for junk in ("", "abc", "a.b", "!!!.???", token + "x", "." * 3000):
        assert await links.verify(junk, "single_sender") is None


async def test_only_the_canonical_spelling_of_a_token_verifies(db: Any) -> None:
    """The last character of base64 carries bits that decoding ignores: another letter there must not
    give a second valid spelling of the same token."""
    links = LinkSigner(db)
    token = await links.sign("single_sender", "7", "n1", 3600)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spellings = [token[:-1] + c for c in alphabet if c != token[-1]]
    assert [s for s in spellings if await links.verify(s, "single_sender") is not None] == []
    assert await links.verify(token, "single_sender") is not None
