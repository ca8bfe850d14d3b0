"""Fixed-window counters in memory: per-sender sending limits and per-IP authentication back-off.

Counts are per process; with several processes each enforces the limit on its own share.
"""

from __future__ import annotations

import time


class WindowCounter:
    """How many events a key had in the current window of `seconds`."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    def count(self, key: str, seconds: float, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        start, n = self._windows.get(key, (now, 0))
        return 0 if now - start >= seconds else n

    def add(self, key: str, seconds: float, now: float | None = None) -> int:
        """Record one event; returns the count in the window including it."""
        now = time.monotonic() if now is None else now
        start, n = self._windows.get(key, (now, 0))
        if now - start >= seconds:
            start, n = now, 0
        if len(self._windows) > 100_000:
            self._windows.clear()
        self._windows[key] = (start, n + 1)
        return n + 1

    def started(self, key: str) -> float | None:
        """When the key's current window began (None before its first event)."""
        window = self._windows.get(key)
        return window[0] if window else None

    def discount(self, key: str) -> None:
        """Take back one event recorded in the current window (it turned out not to count)."""
        start, n = self._windows.get(key, (0.0, 0))
        if n > 0:
            self._windows[key] = (start, n - 1)

    def reset(self, key: str) -> None:
        self._windows.pop(key, None)
