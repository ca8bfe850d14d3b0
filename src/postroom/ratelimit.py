"""Fixed-window counters: per-key and per-sender limits, per-IP authentication back-off.

WindowCounter and MemoryWindows count in this process; with several processes each enforces a limit
on its own share of the traffic, unless the windows are shared (storage/shared_windows.py, Redis).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


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


@dataclass(frozen=True)
class Taken:
    """A window after a take: whether the events fitted, the count in the window, seconds to its end."""

    fitted: bool
    used: int
    reset: float


class Windows(Protocol):
    """Fixed windows by name: in this process (MemoryWindows) or shared by every process (Redis)."""

    async def take(self, name: str, n: int, limit: int, seconds: float) -> Taken:
        """Count `n` events when `used + n <= limit`, else none."""
        ...


class MemoryWindows:
    """The windows of this process. Taking runs without an await, so concurrent requests cannot overrun."""

    def __init__(self) -> None:
        self._counter = WindowCounter()

    def take_now(self, name: str, n: int, limit: int, seconds: float) -> Taken:
        now = time.monotonic()
        used = self._counter.count(name, seconds, now)
        fitted = used + n <= limit
        if fitted:
            for _ in range(n):
                used = self._counter.add(name, seconds, now)
        start = self._counter.started(name)
        reset = seconds if start is None or now - start >= seconds else seconds - (now - start)
        return Taken(fitted, used, reset)

    async def take(self, name: str, n: int, limit: int, seconds: float) -> Taken:
        return self.take_now(name, n, limit, seconds)
