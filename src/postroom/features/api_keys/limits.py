"""Fixed-window limits in memory: per-key request and sending limits, per-IP failed key checks.

Counts are per process (postroom.ratelimit): with several API processes behind a balancer each
enforces a limit on the share of traffic it sees. A refusal is LimitExceeded, a 429 that carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds until the window ends,
an integer, which is what the official Python client parses) and `Retry-After`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from postroom.errors import RateLimited
from postroom.ratelimit import WindowCounter


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
    """Named fixed windows. Taking is synchronous (no await), so concurrent requests cannot overrun."""

    def __init__(self) -> None:
        self._windows = WindowCounter()

    def _reset(self, name: str, seconds: float, now: float) -> float:
        start = self._windows.started(name)
        if start is None or now - start >= seconds:
            return seconds
        return seconds - (now - start)

    def take(self, name: str, n: int, limit: int, seconds: float, refusal: str) -> Quota:
        """Count `n` events against `limit` per `seconds`; when they do not fit, count none and raise
        LimitExceeded whose message starts with `refusal`."""
        now = time.monotonic()
        used = self._windows.count(name, seconds, now)
        if used + n > limit:
            raise LimitExceeded(refusal, Quota(limit, limit - used, self._reset(name, seconds, now)))
        for _ in range(n):
            used = self._windows.add(name, seconds, now)
        return Quota(limit, limit - used, self._reset(name, seconds, now))

    def record(self, name: str, limit: int, seconds: float) -> Quota | None:
        """Count one event (a failure, say); the Quota when that takes the count over `limit`, else None."""
        now = time.monotonic()
        used = self._windows.add(name, seconds, now)
        return Quota(limit, 0, self._reset(name, seconds, now)) if used > limit else None
