"""SMTP users: add, edit (replace or patch), view and remove an account's users, and log them in.

A password is kept only as its Argon2 hash and shown once, by add. Usernames are unique across
all accounts (SMTP AUTH names no account); everything else only ever sees the caller's account.
Raises InvalidInput for a setting that fails validation (an `ip_pool` must name a configured
dedicated IP pool, and in a subaccount only its own pool: dedicated_ips.check_account_pool),
Conflict for a username that is taken and NotFound for a username the account does not have.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postroom.clock import SYSTEM_CLOCK, Clock, utcnow
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.dedicated_ips.service import check_account_pool, check_pool
from postroom.features.smtp_users import repo
from postroom.features.smtp_users.passwords import Passwords, new_password
from postroom.features.smtp_users.profile import (
    columns,
    new_values,
    profile_of,
    ratelimit_of,
    validated,
)
from postroom.features.smtp_users.schemas import (
    MASKED_PASSWORD,
    SETTING_FIELDS,
    USERNAME_CHAR,
    SmtpUserRequest,
    SmtpUserResult,
)
from postroom.storage.database import Database

CACHE_SECONDS = 60.0
MAX_CACHED_LOGINS = 10000
_USERNAME = re.compile(USERNAME_CHAR + "{5,100}")  # for fullmatch: the schema's `$` allows a final "\n"


@dataclass(frozen=True)
class SmtpSender:
    """An SMTP user as the SMTP server needs it, with its account."""

    account_id: str
    account_name: str
    username: str
    status: str  # allowed | blocked | sandbox
    sending_allowed: bool
    ratelimit: tuple[int, float] | None  # (messages, per seconds) when custom_ratelimit is on
    ip_pool: int | None = None  # the user's own dedicated IP pool; None: its account's, else the default
    audit_email: str | None = None  # gets a hidden copy of every message the user sends


def _check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "username", "The field 'username' takes 5 to 100 letters, digits and the characters . _ @ + -"
        )


def _result(row: dict[str, Any], password: str = MASKED_PASSWORD) -> SmtpUserResult:
    fields = msgspec.structs.asdict(profile_of(row))
    fields.update(username=row["username"], email_password=password, sending_allowed=row["sending_allowed"])
    return msgspec.convert(fields, SmtpUserResult)


def _insert(conn: Connection, row: dict[str, Any], ip_pool: int | None, pool_ids: Collection[int]) -> None:
    check_account_pool(conn, row["account_id"], ip_pool, pool_ids)
    conflict = Conflict(f"An SMTP user with the username '{row['username']}' already exists")
    if repo.username_taken(conn, row["username"]):
        raise conflict
    try:
        repo.insert_user(conn, row)
    except IntegrityError:  # taken by another process between the check and the insert
        raise conflict from None


def _existing(conn: Connection, account_id: str, username: str) -> dict[str, Any]:
    row = repo.user_of(conn, account_id, username)
    if row is None:
        raise NotFound(f"The SMTP user '{username}' does not exist")
    return row


def _edit(
    conn: Connection,
    account_id: str,
    req: SmtpUserRequest,
    only: frozenset[str] | None,
    password_hash: str,
    pool_ids: Collection[int],
) -> dict[str, Any]:
    row = _existing(conn, account_id, req.username)
    check_account_pool(conn, account_id, req.ip_pool, pool_ids)  # None (also: not given) passes
    changes = {**columns(validated(new_values(req, only, row))), "updated_at": utcnow()}
    if password_hash:
        changes["password_hash"] = password_hash
    repo.update_user(conn, row["id"], changes)
    return {**row, **changes}


def _remove(conn: Connection, account_id: str, username: str) -> dict[str, Any]:
    row = _existing(conn, account_id, username)
    repo.delete_user(conn, row["id"])
    return row


def _sender(row: dict[str, Any]) -> SmtpSender:
    profile = profile_of(row)
    return SmtpSender(
        account_id=row["account_id"],
        account_name=row["account_name"],
        username=row["username"],
        status=row["status"],
        sending_allowed=bool(row["sending_allowed"]),
        ratelimit=ratelimit_of(profile),
        ip_pool=profile.ip_pool,
        audit_email=profile.audit_email,
    )


def _login_digest(username: str, password: str) -> bytes:
    return hashlib.sha256(f"{username}\0{password}".encode()).digest()


class SmtpUserService:
    """The one place SMTP users are managed (API, dashboard, CLI) and logged in (SMTP server)."""

    def __init__(self, db: Database, pool_ids: Collection[int] = (), clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._db = db
        self._pool_ids = pool_ids  # the configured dedicated IP pools that `ip_pool` may name
        self._passwords = Passwords()
        # sha256(username NUL password) → (fresh until, the hash it was verified against)
        self._logins: dict[bytes, tuple[float, str]] = {}

    async def add(self, account_id: str, req: SmtpUserRequest) -> SmtpUserResult:
        """Create a user in the account; the result holds the clear password, the only time it is shown."""
        _check_username(req.username)
        check_pool(req.ip_pool, self._pool_ids)
        profile = validated({name: getattr(req, name) for name in SETTING_FIELDS})
        password = req.email_password or new_password()
        now = utcnow()
        row = {
            "account_id": account_id,
            "username": req.username,
            "password_hash": await self._passwords.hash(password),
            **columns(profile),
            "created_at": now,
            "updated_at": now,
        }
        await self._db.write(lambda conn: _insert(conn, row, req.ip_pool, self._pool_ids))
        return _result(row, password)

    async def edit(
        self, account_id: str, req: SmtpUserRequest, only: frozenset[str] | None = None
    ) -> SmtpUserResult:
        """Replace every setting (POST edit), or with `only`, just those settings (PATCH edit).

        The password changes only when `email_password` is given.
        """
        check_pool(req.ip_pool, self._pool_ids)
        password_hash = await self._passwords.hash(req.email_password) if req.email_password else ""
        row = await self._db.write(
            lambda conn: _edit(conn, account_id, req, only, password_hash, self._pool_ids)
        )
        self._logins.clear()
        return _result(row)

    async def view(self, account_id: str, username: str = "") -> list[SmtpUserResult]:
        rows = await self._db.read(lambda conn: repo.users_of(conn, account_id, username))
        return [_result(row) for row in rows]

    async def remove(self, account_id: str, username: str) -> SmtpUserResult:
        row = await self._db.write(lambda conn: _remove(conn, account_id, username))
        self._logins.clear()
        return _result(row)

    async def authenticate(self, username: str, password: str) -> SmtpSender | None:
        """The user when the password is right, else None (unknown user or wrong password).

        Argon2 runs on a worker thread; a success is remembered for CACHE_SECONDS against the hash
        it was checked with, so repeated logins skip Argon2 while a changed password or a removed
        user takes effect at once.
        """
        row = await self._row(username)
        if row is None:
            await self._passwords.verify_nothing(password)
            return None
        digest = _login_digest(username, password)
        cached = self._logins.get(digest)
        if cached is None or cached[0] <= self._clock.monotonic() or cached[1] != row["password_hash"]:
            if not await self._passwords.verify(row["password_hash"], password):
                return None
            if len(self._logins) >= MAX_CACHED_LOGINS:
                self._logins.clear()
            self._logins[digest] = (self._clock.monotonic() + CACHE_SECONDS, row["password_hash"])
        return _sender(row)

    async def sender(self, username: str) -> SmtpSender | None:
        """The current settings of a user (its status may have changed since AUTH)."""
        row = await self._row(username)
        return None if row is None else _sender(row)

    async def _row(self, username: str) -> dict[str, Any] | None:
        """The user's row; a name no user can have (a NUL, say, from AUTH LOGIN) is not looked up."""
        if not _USERNAME.fullmatch(username):
            return None
        return await self._db.read(lambda conn: repo.login_row(conn, username))
