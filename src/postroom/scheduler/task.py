"""What a periodic task is: a name, an interval and an async function returning a short outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class PeriodicTask:
    """Run `run()` every `interval` (by whichever process leads); it returns what it did, in words.

    With `initial_delay`, a task never run before waits that long after the scheduler first leads,
    so a fresh start does not set off a burst of work.
    """

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[str]]
    initial_delay: timedelta = timedelta(0)
