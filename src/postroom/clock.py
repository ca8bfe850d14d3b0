"""Time, in one place: naive UTC datetimes are what the database stores."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(value: datetime) -> str:
    """`2026-02-06T10:30:00Z` for a naive UTC datetime."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
