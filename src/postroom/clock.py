"""Time, in one place: a Clock seam (wall time as naive UTC, and a monotonic counter) and formatting.

Code that needs time takes a `Clock` (default `SYSTEM_CLOCK`), so tests can move time with
`postroom.testing.FakeClock` instead of patching constants. Naive UTC datetimes are what the
database stores.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where time comes from."""

    def now(self) -> datetime:
        """The wall-clock time as a naive UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a counter that never goes back: for ages, timeouts and cache freshness."""
        ...

    def timestamp(self) -> float:
        """The wall-clock time as Unix seconds."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def monotonic(self) -> float:
        return time.monotonic()

    def timestamp(self) -> float:
        return time.time()


SYSTEM_CLOCK: Clock = SystemClock()


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(value: datetime) -> str:
    """`2026-02-06T10:30:00Z` for a naive UTC datetime."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
