"""When a failed webhook notification is tried again: a schedule kept as data (a setting).

The text is a comma list of waits: `5m` is one wait; `1h..24h` repeats a wait of 1 h as long as the
attempt it leads to stays within 24 h of the event. Waits add up from the event's time, so the
schedule does not drift with slow receivers. The default is decisions.md's: after 1, 2, 5, 10 and
12 minutes (five tries in the first half hour), hourly until 24 hours after the event, then every
6 hours until 48 hours; after that the notification is marked failed (and kept).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from postroom.durations import parse_duration

DEFAULT = "1m,2m,5m,10m,12m,1h..24h,6h..48h"
MAX_ATTEMPTS = 1000  # a schedule that would expand past this is refused


class RetrySchedule:
    """`offsets[k]`: how long after the event the (k+2)-th attempt comes (the first is at once)."""

    def __init__(self, offsets: list[timedelta]) -> None:
        self.offsets = offsets

    @classmethod
    def parse(cls, text: str) -> RetrySchedule:
        """Raises ValueError for a malformed schedule."""
        offsets: list[timedelta] = []
        at = 0
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            wait_text, sep, until_text = part.partition("..")
            wait = parse_duration(wait_text)
            if wait <= 0:
                raise ValueError(f"{part!r}: a wait must be longer than 0")
            if not sep:
                at += wait
                offsets.append(timedelta(seconds=at))
                continue
            until = parse_duration(until_text)
            while at + wait <= until:
                at += wait
                offsets.append(timedelta(seconds=at))
                if len(offsets) > MAX_ATTEMPTS:
                    raise ValueError(f"the schedule has more than {MAX_ATTEMPTS} attempts")
        return cls(offsets)

    def next_attempt(self, event_at: datetime, attempts: int) -> datetime | None:
        """After `attempts` failed attempts, when the next one is due; None when there is none."""
        if attempts < 1 or attempts > len(self.offsets):
            return None
        return event_at + self.offsets[attempts - 1]

    @property
    def span(self) -> timedelta:
        """From the event to the last attempt."""
        return self.offsets[-1] if self.offsets else timedelta(0)

    @property
    def attempts(self) -> int:
        return 1 + len(self.offsets)
