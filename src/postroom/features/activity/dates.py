"""The date formats /activity/search accepts (reference §5.1, Go layouts), read as UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_date(text: str) -> datetime:
    """A naive UTC datetime from any accepted layout; raise ValueError otherwise.

    ISO forms (`2006-01-02`, `2006-01-02 15:04:05`, `…T15:04:05.0000000`, RFC 3339 and RFC 3339
    with nanoseconds) go through fromisoformat; RFC 822/1123 forms (`02 Jan 06 15:04 MST`,
    `02 Jan 06 15:04 -0700`, `Mon, 02 Jan 2006 15:04:05 MST`) through the e-mail date parser,
    which knows the zone names of RFC 822.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise ValueError(text) from None
    if parsed.tzinfo is not None:
        try:  # 0001-01-01T00:00:00+05:00 and 9999-12-31T23:59:59-05:00 fall outside datetime's range in UTC
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except (OverflowError, ValueError):
            raise ValueError(text) from None
    return parsed
