"""SmtpUserService against a real database: logins for the SMTP server, the login cache, edits."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.api_keys import repo as keys_repo
from postroom.features.smtp_users import service as service_module
from postroom.features.smtp_users.passwords import Passwords
from postroom.features.smtp_users.schemas import SmtpUserRequest
from postroom.features.smtp_users.service import SmtpSender, SmtpUserService
from postroom.storage.tables import smtp_users
from postroom.testing import FakeClock

PASSWORD = "correct horse battery"


class CountingPasswords(Passwords):
    """The real hasher, counting verifications (each one is an Argon2 run)."""

    def __init__(self) -> None:
        super().__init__()
        self.verifications = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return await super().verify(password_hash, password)


def _service(db: Any, clock: FakeClock | None = None) -> tuple[SmtpUserService, CountingPasswords]:
    users = SmtpUserService(db, clock=clock or FakeClock())
    counting = CountingPasswords()
    users._passwords = counting
    return users, counting


def _account(db: Any) -> str:
    account_id = db.read_sync(keys_repo.master_account_id)
    assert isinstance(account_id, str)
    return account_id


async def test_right_and_wrong_password_and_unknown_user(db: Any) -> None:
    users, _ = _service(db)
    account_id = _account(db)
    await users.add(account_id, SmtpUserRequest("mailer1", email_password=PASSWORD))
    sender = await users.authenticate("mailer1", PASSWORD)
    assert sender == SmtpSender(account_id, "Master account", "mailer1", "allowed", True, None)
    assert await users.authenticate("mailer1", "wrong password") is None
    assert await users.authenticate("MAILER1", PASSWORD) is None
    assert await users.authenticate("nobody-here", PASSWORD) is None
    for impossible in ("mail\0er1", "mailer1\n", "x" * 101, ""):  # e.g. from AUTH LOGIN
        assert await users.authenticate(impossible, PASSWORD) is None
        assert await users.sender(impossible) is None
    assert await users.sender("nobody-here") is None


async def test_generated_password_logs_in(db: Any) -> None:
    users, _ = _service(db)
    added = await users.add(_account(db), SmtpUserRequest("mailer1"))
    assert len(added.email_password) >= 22
    assert await users.authenticate("mailer1", added.email_password) is not None


async def test_blocked_and_sandbox_status_and_ratelimit_are_reported(db: Any) -> None:
    users, _ = _service(db)
    account_id = _account(db)
    await users.add(
        account_id,
        SmtpUserRequest(
            "mailer1",
            email_password=PASSWORD,
            status="blocked",
            custom_ratelimit=True,
            custom_ratelimit_value=100,
            custom_ratelimit_period="1 hour",
        ),
    )
    sender = await users.authenticate("mailer1", PASSWORD)
    assert sender is not None
    assert (sender.status, sender.sending_allowed, sender.ratelimit) == ("blocked", False, (100, 3600.0))
    await users.edit(account_id, SmtpUserRequest("mailer1", status="sandbox"), only=frozenset({"status"}))
    current = await users.sender("mailer1")
    assert current is not None
    assert (current.status, current.sending_allowed, current.ratelimit) == ("sandbox", True, (100, 3600.0))


async def test_a_repeated_login_skips_argon2_until_an_edit_clears_the_cache(db: Any) -> None:
    users, counting = _service(db)
    account_id = _account(db)
    await users.add(account_id, SmtpUserRequest("mailer1", email_password=PASSWORD))
    for _ in range(3):
        assert await users.authenticate("mailer1", PASSWORD) is not None
    assert counting.verifications == 1
    await users.edit(account_id, SmtpUserRequest("mailer1", description="x"), only=frozenset({"description"}))
    assert await users.authenticate("mailer1", PASSWORD) is not None
    assert counting.verifications == 2
    assert await users.authenticate("mailer1", "wrong password") is None  # failures are never cached
    assert await users.authenticate("mailer1", "wrong password") is None
    assert counting.verifications == 4


async def test_cache_entries_expire(db: Any) -> None:
    clock = FakeClock()
    users, counting = _service(db, clock)
    await users.add(_account(db), SmtpUserRequest("mailer1", email_password=PASSWORD))
    await users.authenticate("mailer1", PASSWORD)
    clock.advance(service_module.CACHE_SECONDS - 1)
    await users.authenticate("mailer1", PASSWORD)
    assert counting.verifications == 1
    clock.advance(1)
    await users.authenticate("mailer1", PASSWORD)
    assert counting.verifications == 2


async def test_password_change_and_removal_take_effect_at_once(db: Any) -> None:
    users, _ = _service(db)
    account_id = _account(db)
    await users.add(account_id, SmtpUserRequest("mailer1", email_password=PASSWORD))
    assert await users.authenticate("mailer1", PASSWORD) is not None
    await users.edit(account_id, SmtpUserRequest("mailer1", email_password="a new password"))
    assert await users.authenticate("mailer1", PASSWORD) is None
    assert await users.authenticate("mailer1", "a new password") is not None
    await users.remove(account_id, "mailer1")
    assert await users.authenticate("mailer1", "a new password") is None
    assert await users.sender("mailer1") is None


async def test_a_cached_login_is_not_trusted_after_the_hash_changed_elsewhere(db: Any) -> None:
    """Another process changed the password: this process's cache entry no longer matches the row."""
    users, _ = _service(db)
    other, _ = _service(db)
    account_id = _account(db)
    await users.add(account_id, SmtpUserRequest("mailer1", email_password=PASSWORD))
    assert await users.authenticate("mailer1", PASSWORD) is not None
    await other.edit(account_id, SmtpUserRequest("mailer1", email_password="a new password"))
    assert await users.authenticate("mailer1", PASSWORD) is None


async def test_domain_errors(db: Any) -> None:
    users, _ = _service(db)
    account_id = _account(db)
    await users.add(account_id, SmtpUserRequest("mailer1", email_password=PASSWORD))
    with pytest.raises(Conflict):
        await users.add(account_id, SmtpUserRequest("mailer1"))
    with pytest.raises(NotFound):
        await users.edit(account_id, SmtpUserRequest("mailer2"))
    with pytest.raises(NotFound):
        await users.remove("another-account", "mailer1")
    with pytest.raises(InvalidInput) as info:
        await users.edit(account_id, SmtpUserRequest("mailer1", custom_ratelimit=True))
    assert info.value.field == "custom_ratelimit_value"


async def test_the_database_holds_only_an_argon2_hash(db: Any) -> None:
    users, _ = _service(db)
    await users.add(_account(db), SmtpUserRequest("mailer1", email_password=PASSWORD))
    rows = db.read_sync(lambda c: c.execute(smtp_users.select()).mappings().all())
    assert len(rows) == 1
    assert rows[0]["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in repr(dict(rows[0]))


async def test_a_corrupt_stored_hash_refuses_the_login(db: Any) -> None:
    users, _ = _service(db)
    await users.add(_account(db), SmtpUserRequest("mailer1", email_password=PASSWORD))
    db.write_sync(lambda c: c.execute(update(smtp_users).values(password_hash="not-a-hash")))
    assert await users.authenticate("mailer1", PASSWORD) is None


def test_generated_passwords_never_look_like_options() -> None:
    from postroom.features.smtp_users.passwords import new_password

    passwords = [new_password() for _ in range(2000)]
    assert all(p[0].isalnum() and len(p) == 22 for p in passwords) and len(set(passwords)) == 2000
