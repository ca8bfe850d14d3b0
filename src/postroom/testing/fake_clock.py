"""A Clock that moves only when a test says so."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """Starts at `start` (naive UTC) and a monotonic reading of 1000.0; `advance()` moves both."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, 0)
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def timestamp(self) -> float:
        return (self._now - datetime(1970, 1, 1)).total_seconds()

    def advance(self, seconds: float) -> None:
        """Move wall and monotonic time forward by `seconds`."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
