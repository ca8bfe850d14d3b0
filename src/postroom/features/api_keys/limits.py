"""Fixed-window limits: per-key request and sending limits, per-IP failed key checks.

Counts are per process (postroom.ratelimit.MemoryWindows) unless `redis_url` is set: then every
process counts in the same Redis windows (storage/shared_windows.py) and a limit holds across all of
them. A refusal is LimitExceeded, a 429 that carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds until the window ends,
an integer, which is what the official Python client parses) and `Retry-After`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from postroom.errors import RateLimited
from postroom.ratelimit import MemoryWindows, Windows

UNLIMITED = 2**62  # a take that always fits: counting only


@dataclass(frozen=True)
class Quota:
    """Where a limit stands after a request: the `X-RateLimit-*` headers."""

    limit: int
    remaining: int
    reset: float  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(max(0, math.ceil(self.reset))),
        }


class LimitExceeded(RateLimited):
    """429 REQ_LIMIT_EXCEEDED with its rate-limit headers and `Retry-After`."""

    def __init__(self, message: str, quota: Quota) -> None:
        retry = max(1, math.ceil(quota.reset))
        super().__init__(f"{message}; try again in {retry} seconds")
        self.headers = {**quota.headers(), "Retry-After": str(retry)}


def per(seconds: float) -> str:
    """`60 seconds`, `1 hour`: a window length for messages."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return f"{seconds:g} seconds"


class Limiter:
    """Named fixed windows, in this process or shared by every process (settings.redis_url)."""

    def __init__(self, windows: Windows | None = None) -> None:
        self.windows: Windows = windows or MemoryWindows()

    async def take(self, name: str, n: int, limit: int, seconds: float, refusal: str) -> Quota:
        """Count `n` events against `limit` per `seconds`; when they do not fit, count none and raise
        LimitExceeded whose message starts with `refusal`."""
        taken = await self.windows.take(name, n, limit, seconds)
        quota = Quota(limit, limit - taken.used, taken.reset)
        if not taken.fitted:
            raise LimitExceeded(refusal, quota)
        return quota

    async def close(self) -> None:
        """Release a shared store's connections (nothing to do for this process's own windows)."""
        close = getattr(self.windows, "close", None)
        if close is not None:
            await close()

    async def record(self, name: str, limit: int, seconds: float) -> Quota | None:
        """Count one event (a failure, say); the Quota when that takes the count over `limit`, else None."""
        taken = await self.windows.take(name, 1, UNLIMITED, seconds)
        return Quota(limit, 0, taken.reset) if taken.used > limit else None
