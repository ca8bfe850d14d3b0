"""The custom_ratelimit_period syntax: `<n> [hour[s]|day[s]|week[s]|month[s]] [hh:mm:ss]`."""

from __future__ import annotations

import pytest

from postroom.features.smtp_users.period import parse_period


@pytest.mark.parametrize(
    ("text", "canonical", "seconds"),
    [
        ("0:30:00", "0:30:00", 1800),
        ("00:30:00", "0:30:00", 1800),
        ("25:00:00", "25:00:00", 90000),
        ("1 hour", "1 hour", 3600),
        ("1 hours", "1 hour", 3600),
        ("2 days", "2 days", 172800),
        ("2 Days", "2 days", 172800),
        ("1 day", "1 day", 86400),
        ("1week", "1 week", 604800),
        ("3 months", "3 months", 3 * 30 * 86400),
        ("1 day 2:00:00", "1 day 2:00:00", 93600),
        ("2 days, 0:30:00", "2 days 0:30:00", 174600),  # Python's timedelta form
        ("2 days 0:00:00", "2 days", 172800),
        ("0 days", "0:00:00", 0),
        ("0:00:00", "0:00:00", 0),
        ("  1 hour  ", "1 hour", 3600),
    ],
)
def test_valid_periods(text: str, canonical: str, seconds: int) -> None:
    period = parse_period(text)
    assert (period.text, period.seconds) == (canonical, seconds)
    assert parse_period(period.text) == period  # the canonical text reads back the same


@pytest.mark.parametrize(
    "text",
    [
        "",
        "5",
        "days",
        "1 year",
        "1 minute",
        "0:60:00",
        "0:00:60",
        "1:2:3",
        "0:30",
        "1 day,",
        ",0:30:00",
        "x0:30:00",
        "1 day 2 hours",
        "-1 day",
        "1.5 days",
        "1 day 0:30:00 extra",
    ],
)
def test_invalid_periods(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)
