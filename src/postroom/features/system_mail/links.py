"""Signed links in Postroom's own mail: a token that names what it is for, and expires.

A token is `payload.signature`, both base64url: the payload is JSON `{"p": purpose, "s": subject,
"n": nonce, "e": expires}` and the signature its HMAC-SHA256 under a secret made once and kept in
`server_state`, so any process sharing the database accepts it. The nonce lets the owner of the link
revoke it (a resent verification or invitation replaces the stored nonce, so older links stop working).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from postroom.storage.database import Database
from postroom.storage.state import shared_secret

SECRET_STATE = "link_secret"


@dataclass(frozen=True)
class LinkClaims:
    purpose: str
    subject: str  # what the link is about: an address, a subaccount id
    nonce: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._secret: bytes | None = None

    async def _key(self) -> bytes:
        if self._secret is None:
            self._secret = await self._db.write(lambda conn: shared_secret(conn, SECRET_STATE))
        return self._secret

    async def sign(self, purpose: str, subject: str, nonce: str, lifetime_seconds: int) -> str:
        payload = json.dumps(
            {"p": purpose, "s": subject, "n": nonce, "e": int(time.time()) + lifetime_seconds},
            separators=(",", ":"),
        ).encode()
        mac = hmac.new(await self._key(), payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(mac)}"

    async def verify(self, token: str, purpose: str) -> LinkClaims | None:
        """The token's claims when it is genuine, unexpired and for `purpose`; None otherwise."""
        head, dot, tail = token.partition(".")
        if not dot or len(token) > 2048:
            return None
        try:
            payload, mac = _unb64(head), _unb64(tail)
        except (binascii.Error, ValueError):
            return None
        if _b64(payload) != head or _b64(mac) != tail:
            return None  # only the canonical spelling: unused low bits of the last character may vary
        expected = hmac.new(await self._key(), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            data = json.loads(payload)
            claims = LinkClaims(str(data["p"]), str(data["s"]), str(data["n"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        if claims.purpose != purpose or claims.expires < time.time():
            return None
        return claims
