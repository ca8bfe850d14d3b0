"""The retry schedule as data: when a deferred delivery is tried again, and when it is given up.

Close to Postfix (`minimal_backoff_time` … `maximal_queue_lifetime`) and RFC 5321 §4.5.4.1, which asks
for at least 30 minutes between retries and at least 4 to 5 days before giving up; the defaults
(`1m,5m,10m,30m,1h,2h,4h`, last repeating, for `5d`) retry sooner at first, as transactional mail wants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from postroom.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    delays: tuple[int, ...]  # seconds to wait after the 1st, 2nd, … failed attempt; the last repeats
    lifetime: int  # seconds from queueing after which a delivery that still fails is bounced

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.retry_delays, settings.queue_lifetime_seconds)

    def next_attempt(self, attempts: int, queued_at: datetime, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed tries, or None when the lifetime is over.

        The last retry is pulled in to the end of the lifetime, so a delivery is always tried once
        more at its deadline before it is bounced.
        """
        deadline = queued_at + timedelta(seconds=self.lifetime)
        if now >= deadline:
            return None
        wait = self.delays[min(max(attempts, 1), len(self.delays)) - 1]
        return min(now + timedelta(seconds=wait), deadline)


DEFAULT_POLICY = RetryPolicy(Settings().retry_delays, Settings().queue_lifetime_seconds)
