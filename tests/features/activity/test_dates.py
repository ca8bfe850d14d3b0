"""Every date layout /activity/search accepts (reference §5.1), read as UTC."""

from __future__ import annotations

from datetime import datetime

import pytest

from postroom.features.activity.dates import parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02", datetime(2026, 1, 2)),
        ("2026-01-02 15:04:05", datetime(2026, 1, 2, 15, 4, 5)),
        ("2026-01-02T15:04:05", datetime(2026, 1, 2, 15, 4, 5)),
        ("2026-01-02T15:04:05.1234567", datetime(2026, 1, 2, 15, 4, 5, 123456)),
        ("02 Jan 26 15:04 MST", datetime(2026, 1, 2, 22, 4)),
        ("02 Jan 26 15:04 -0700", datetime(2026, 1, 2, 22, 4)),
        ("2026-01-02T15:04:05Z", datetime(2026, 1, 2, 15, 4, 5)),
        ("2026-01-02T15:04:05+02:00", datetime(2026, 1, 2, 13, 4, 5)),
        ("2026-01-02T15:04:05.999999999Z", datetime(2026, 1, 2, 15, 4, 5, 999999)),
        ("Fri, 02 Jan 2026 15:04:05 MST", datetime(2026, 1, 2, 22, 4, 5)),
        ("Fri, 02 Jan 2026 15:04:05 GMT", datetime(2026, 1, 2, 15, 4, 5)),
    ],
)
def test_layouts(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "32 Jan 26 15:04 MST", "1700000000"])
def test_unreadable(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_outside_the_utc_range(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)
