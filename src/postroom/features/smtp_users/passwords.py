"""Argon2 hashing of SMTP passwords, off the event loop.

Each hash or verification costs tens of milliseconds of CPU and 64 MiB of memory (argon2-cffi's
RFC 9106 low-memory profile), so they run on a small dedicated pool: a burst of logins queues
instead of taking every worker thread and a gigabyte of memory.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# One pool per process, however many services use it: it bounds Argon2's memory and CPU.
_pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="postroom-argon2")


def new_password() -> str:
    """22 URL-safe characters: 128 random bits (SMTP2GO asks for at least 64).

    Never starting with `-` or `_`, so the password can be given to command-line tools (swaks,
    curl) without being read as an option.
    """
    while True:
        password = secrets.token_urlsafe(16)
        if password[0].isalnum():
            return password


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Passwords:
    """Hash and verify on the shared pool; never on the event loop."""

    def __init__(self) -> None:
        self._dummy_hash = ""

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(_pool, _hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(_pool, _verify, password_hash, password)

    async def verify_nothing(self, password: str) -> None:
        """Spend the time of a verification, so an unknown username answers no faster than a known one."""
        if not self._dummy_hash:
            self._dummy_hash = await self.hash(new_password())
        await self.verify(self._dummy_hash, password)
