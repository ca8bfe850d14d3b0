"""Dashboard sign-in sessions: signing and checking the cookie value that names a key's identity.

The value is `v1.key_id.expires.nonce.signature` (HMAC-SHA256), never the key. The signing secret is
made once and kept in the `server_state` table, so every process sharing the database accepts the
same cookies. A session's CSRF token is derived from its nonce, so it needs no storage either.
Signing out records the nonce as revoked (also in `server_state`), so a copy of the cookie stops
working too. The cookie itself is the web room's (web/session.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postroom.features.api_keys import repo
from postroom.storage.database import Database

SECRET_STATE = "web_session_secret"
REVOKED_STATE = "web_signed_out:"  # + the session's nonce
LIFETIME_SECONDS = 12 * 3600  # how long a cookie stays valid
_VERSION = "v1"


@dataclass(frozen=True)
class Claims:
    """What a valid cookie says; the key it names may since have been removed or blocked."""

    key_id: str
    expires: int
    nonce: str


def _load_or_create(conn: Connection) -> str:
    secret = repo.get_state(conn, SECRET_STATE)
    if secret is None:
        secret = secrets.token_hex(32)
        repo.set_state(conn, SECRET_STATE, secret)
    return secret


class SessionSigner:
    """Signs and checks session cookies with the server's secret, loaded once per process."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._secret: bytes | None = None

    async def _key(self) -> bytes:
        if self._secret is None:
            secret: str | None
            try:
                secret = await self._db.write(_load_or_create)
            except IntegrityError:  # another process stored its secret first: use that one
                secret = await self._db.read(lambda conn: repo.get_state(conn, SECRET_STATE))
            assert secret is not None
            self._secret = secret.encode()
        return self._secret

    async def _mac(self, purpose: str, message: str) -> str:
        return hmac.new(await self._key(), f"{purpose}|{message}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, key_id: str, now: float | None = None) -> str:
        """A fresh cookie value for the key's identity, valid for LIFETIME_SECONDS."""
        expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
        payload = f"{_VERSION}.{key_id}.{expires}.{secrets.token_hex(16)}"
        return f"{payload}.{await self._mac('session', payload)}"

    async def verify(self, value: str | None, now: float | None = None) -> Claims | None:
        """The claims of a well-signed, unexpired cookie; None for anything else."""
        parts = (value or "").split(".")
        if len(parts) != 5 or parts[0] != _VERSION or not parts[2].isdigit():
            return None
        payload = ".".join(parts[:4])
        if not hmac.compare_digest(parts[4].encode(), (await self._mac("session", payload)).encode()):
            return None
        claims = Claims(key_id=parts[1], expires=int(parts[2]), nonce=parts[3])
        if claims.expires <= (now if now is not None else time.time()):
            return None
        revoked = await self._db.read(lambda conn: repo.get_state(conn, REVOKED_STATE + claims.nonce))
        return None if revoked is not None else claims

    async def revoke(self, claims: Claims) -> None:
        """Refuse this session from now on, wherever its cookie is presented."""
        name = REVOKED_STATE + claims.nonce
        with contextlib.suppress(IntegrityError):  # signed out twice at once: already revoked
            await self._db.write(lambda conn: repo.set_state(conn, name, str(claims.expires)))

    async def csrf_token(self, claims: Claims) -> str:
        return await self._mac("csrf", claims.nonce)
