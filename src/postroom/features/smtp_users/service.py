"""SMTP users: add, edit (replace or patch), view and remove an account's users, and log them in.

A password is kept only as its Argon2 hash and shown once, by add. Usernames are unique across
all accounts (SMTP AUTH names no account); everything else only ever sees the caller's account.
Raises InvalidInput for a setting that fails validation, Conflict for a username that is taken
and NotFound for a username the account does not have.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from postroom.clock import utcnow
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.smtp_users import repo
from postroom.features.smtp_users.passwords import Passwords, new_password
from postroom.features.smtp_users.period import parse_period
from postroom.features.smtp_users.schemas import (
    MASKED_PASSWORD,
    SETTING_FIELDS,
    USERNAME_CHAR,
    SmtpUserRequest,
    SmtpUserResult,
)
from postroom.mail.addresses import parse_address
from postroom.storage.database import Database

CACHE_SECONDS = 60.0
MAX_CACHED_LOGINS = 10000
_USERNAME = re.compile(USERNAME_CHAR + "{5,100}")  # for fullmatch: the schema's `$` allows a final "\n"
_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


@dataclass(frozen=True)
class SmtpSender:
    """An SMTP user as the SMTP server needs it, with its account."""

    account_id: str
    account_name: str
    username: str
    status: str  # allowed | blocked | sandbox
    sending_allowed: bool
    ratelimit: tuple[int, float] | None  # (messages, per seconds) when custom_ratelimit is on


class Profile(msgspec.Struct, frozen=True):
    """A user's validated settings: `description` and `status` are columns, the rest is JSON."""

    description: str = ""
    status: str = "allowed"
    custom_ratelimit: bool = False
    custom_ratelimit_value: int | None = None
    custom_ratelimit_period: str = "0:00:00"
    custom_ratelimit_seconds: int = 0
    ip_pool: int | None = None
    feedback_enabled: bool = False
    feedback_domain: str = "default"
    feedback_html: str = ""
    feedback_text: str = ""
    open_tracking_enabled: bool = False
    click_tracking_enabled: bool = False
    archive_enabled: bool = False
    audit_email: str | None = None
    bounce_notifications: str = "from"


def _address(field: str, value: str) -> str:
    try:
        return parse_address(value).addr
    except ValueError:
        raise InvalidInput(
            field,
            f"The field '{field}' was expecting a valid RFC-822 formatted email field but found "
            f"'{value}', Please correct your JSON payload and try again.",
        ) from None


def _check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "username", "The field 'username' takes 5 to 100 letters, digits and the characters . _ @ + -"
        )


def _bounce_notifications(value: str) -> str:
    word = value.strip().lower()
    return word if word in ("from", "drop") else _address("bounce_notifications", value)


def _feedback_domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    if not _HOSTNAME.match(domain):
        raise InvalidInput("feedback_domain", f"The field 'feedback_domain' is not a domain name: '{value}'")
    return domain


def _ratelimit(values: dict[str, Any]) -> dict[str, Any]:
    try:
        period = parse_period(values["custom_ratelimit_period"])
    except ValueError:
        raise InvalidInput(
            "custom_ratelimit_period",
            "The field 'custom_ratelimit_period' must look like '<n> [hours|days|weeks|months] "
            f"[hh:mm:ss]', such as '1 hour', '2 days' or '0:30:00', but found "
            f"'{values['custom_ratelimit_period']}'",
        ) from None
    if values["custom_ratelimit"] and values["custom_ratelimit_value"] is None:
        raise InvalidInput("custom_ratelimit_value", "custom_ratelimit_value is required by custom_ratelimit")
    if values["custom_ratelimit"] and period.seconds == 0:
        raise InvalidInput("custom_ratelimit_period", "custom_ratelimit needs a period longer than zero")
    return {"custom_ratelimit_period": period.text, "custom_ratelimit_seconds": period.seconds}


def validated(values: dict[str, Any]) -> Profile:
    """Settings named as in the request, checked and put in their canonical form."""
    audit = values["audit_email"]
    return Profile(
        **{
            **values,
            **_ratelimit(values),
            "audit_email": _address("audit_email", audit) if audit else None,
            "bounce_notifications": _bounce_notifications(values["bounce_notifications"]),
            "feedback_domain": _feedback_domain(values["feedback_domain"]),
        }
    )


def _columns(profile: Profile) -> dict[str, Any]:
    settings = msgspec.structs.asdict(profile)
    description, status = settings.pop("description"), settings.pop("status")
    return {
        "description": description,
        "status": status,
        "sending_allowed": status != "blocked",
        "settings": settings,
    }


def _profile(row: dict[str, Any]) -> Profile:
    stored = {**row["settings"], "description": row["description"], "status": row["status"]}
    return msgspec.convert(stored, Profile)


def _result(row: dict[str, Any], password: str = MASKED_PASSWORD) -> SmtpUserResult:
    fields = msgspec.structs.asdict(_profile(row))
    fields.update(username=row["username"], email_password=password, sending_allowed=row["sending_allowed"])
    return msgspec.convert(fields, SmtpUserResult)


def _new_values(req: SmtpUserRequest, only: frozenset[str] | None, row: dict[str, Any]) -> dict[str, Any]:
    """POST edit: every setting from the request (defaults for the omitted); PATCH: the stored
    settings with only the given ones replaced."""
    if only is None:
        return {name: getattr(req, name) for name in SETTING_FIELDS}
    stored = msgspec.structs.asdict(_profile(row))
    del stored["custom_ratelimit_seconds"]
    return {**stored, **{name: getattr(req, name) for name in only}}


def _insert(conn: Connection, row: dict[str, Any]) -> None:
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
    conn: Connection, account_id: str, req: SmtpUserRequest, only: frozenset[str] | None, password_hash: str
) -> dict[str, Any]:
    row = _existing(conn, account_id, req.username)
    changes = {**_columns(validated(_new_values(req, only, row))), "updated_at": utcnow()}
    if password_hash:
        changes["password_hash"] = password_hash
    repo.update_user(conn, row["id"], changes)
    return {**row, **changes}


def _remove(conn: Connection, account_id: str, username: str) -> dict[str, Any]:
    row = _existing(conn, account_id, username)
    repo.delete_user(conn, row["id"])
    return row


def _sender(row: dict[str, Any]) -> SmtpSender:
    profile = _profile(row)
    ratelimit = None
    if profile.custom_ratelimit and profile.custom_ratelimit_value and profile.custom_ratelimit_seconds:
        ratelimit = (profile.custom_ratelimit_value, float(profile.custom_ratelimit_seconds))
    return SmtpSender(
        account_id=row["account_id"],
        account_name=row["account_name"],
        username=row["username"],
        status=row["status"],
        sending_allowed=bool(row["sending_allowed"]),
        ratelimit=ratelimit,
    )


def _login_digest(username: str, password: str) -> bytes:
    return hashlib.sha256(f"{username}\0{password}".encode()).digest()


class SmtpUserService:
    """The one place SMTP users are managed (API, dashboard, CLI) and logged in (SMTP server)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._passwords = Passwords()
        # sha256(username NUL password) → (fresh until, the hash it was verified against)
        self._logins: dict[bytes, tuple[float, str]] = {}

    async def add(self, account_id: str, req: SmtpUserRequest) -> SmtpUserResult:
        """Create a user in the account; the result holds the clear password, the only time it is shown."""
        _check_username(req.username)
        profile = validated({name: getattr(req, name) for name in SETTING_FIELDS})
        password = req.email_password or new_password()
        now = utcnow()
        row = {
            "account_id": account_id,
            "username": req.username,
            "password_hash": await self._passwords.hash(password),
            **_columns(profile),
            "created_at": now,
            "updated_at": now,
        }
        await self._db.write(lambda conn: _insert(conn, row))
        return _result(row, password)

    async def edit(
        self, account_id: str, req: SmtpUserRequest, only: frozenset[str] | None = None
    ) -> SmtpUserResult:
        """Replace every setting (POST edit), or with `only`, just those settings (PATCH edit).

        The password changes only when `email_password` is given.
        """
        password_hash = await self._passwords.hash(req.email_password) if req.email_password else ""
        row = await self._db.write(lambda conn: _edit(conn, account_id, req, only, password_hash))
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
        if cached is None or cached[0] <= time.monotonic() or cached[1] != row["password_hash"]:
            if not await self._passwords.verify(row["password_hash"], password):
                return None
            if len(self._logins) >= MAX_CACHED_LOGINS:
                self._logins.clear()
            self._logins[digest] = (time.monotonic() + CACHE_SECONDS, row["password_hash"])
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
