"""Rate-limit periods: `<n> [hour[s]|day[s]|week[s]|month[s]] [hh:mm:ss]` (reference §7.9).

Either part may be left out ("2 days", "0:30:00", "1 day 2:00:00"; a comma between the parts, as
Python's timedelta writes it, is accepted too). A month counts as 30 days. The canonical text drops
a zero part and writes the unit in the singular for 1; no period at all is "0:00:00", SMTP2GO's
default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNIT_SECONDS = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}
ZERO = "0:00:00"
_CLOCK = re.compile(r"(?:^|[\s,])(?P<h>\d{1,6}):(?P<m>[0-5]\d):(?P<s>[0-5]\d)$")
_UNITS = re.compile(r"^(?P<n>\d{1,6})\s*(?P<unit>hour|day|week|month)s?$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    text: str
    seconds: int


def _clock_text(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _canonical(n: int, unit: str, clock: int) -> str:
    parts = [f"{n} {unit}{'' if n == 1 else 's'}"] if n else []
    if clock or not parts:
        parts.append(_clock_text(clock))
    return " ".join(parts)


def parse_period(text: str) -> Period:
    """The period's canonical text and length in seconds; raise ValueError when it does not parse."""
    rest = text.strip()
    clock_match = _CLOCK.search(rest)
    clock = 0
    if clock_match:
        clock = int(clock_match["h"]) * 3600 + int(clock_match["m"]) * 60 + int(clock_match["s"])
        if clock_match.start("h") == 0:
            return Period(_canonical(0, "", clock), clock)
        rest = rest[: clock_match.start()].rstrip(" \t,")
    units = _UNITS.match(rest)
    if units is None:
        raise ValueError(text)
    n, unit = int(units["n"]), units["unit"].lower()
    return Period(_canonical(n, unit, clock), n * UNIT_SECONDS[unit] + clock)
