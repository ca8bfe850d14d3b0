"""Scheduled sending: reading `schedule`, and /email/scheduled/search and /remove (their SQL is repo.py's).

`schedule` is an RFC 3339 string, a `YYYY-MM-DD HH:MM:SS` UTC string, or Unix seconds (int or
numeric string), in the future and at most 3 days ahead (decisions.md, reference §4.1). A scheduled
message is stored at once (so it survives restarts); its deliveries are due at the scheduled time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from postroom.errors import InvalidInput
from postroom.features.email import repo

MAX_AHEAD = timedelta(days=3)
HEADER = "X-Smtp2go-Schedule-Id"


def parse_schedule(value: str | int, now: datetime) -> datetime:
    """The naive-UTC time a `schedule` value names; InvalidInput if unreadable, past or too far."""
    when = _read(value)
    if when is None:
        raise InvalidInput(
            "schedule",
            "The field 'schedule' must be an RFC 3339 time, 'YYYY-MM-DD HH:MM:SS' (UTC) or Unix seconds",
        )
    if when <= now:
        raise InvalidInput("schedule", "The field 'schedule' must be in the future")
    if when > now + MAX_AHEAD:
        raise InvalidInput("schedule", "The field 'schedule' must be at most 3 days ahead")
    return when


def _read(value: str | int) -> datetime | None:
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC).replace(tzinfo=None)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def new_schedule_id() -> str:
    return str(uuid.uuid4())


def with_header(raw: bytes, schedule_id: str) -> bytes:
    """The message with the X-Smtp2go-Schedule-Id header the sent mail carries."""
    return f"{HEADER}: {schedule_id}\r\n".encode() + raw


def search(
    conn: Connection, account_id: str, now: datetime, filters: dict[str, str], limit: int, page: int
) -> list[dict[str, Any]]:
    """Scheduled messages not yet due, soonest first, with the seed's filters (substring, any case)."""
    found = repo.scheduled(conn, account_id, now, filters)
    needle = filters.get("recipient", "").lower()
    if needle:
        found = [r for r in found if any(needle in a.lower() for a in _recipients(r))]
    return found[(page - 1) * limit : page * limit]


def _recipients(row: dict[str, Any]) -> list[str]:
    return [*row["to_addrs"], *row["cc_addrs"], *row["bcc_addrs"]]


def recipients_text(row: dict[str, Any]) -> str:
    return ", ".join(_recipients(row))


def remove(conn: Connection, account_id: str, schedule_id: str, now: datetime) -> bool:
    """Delete a scheduled message that is not yet due (its deliveries and events go with it)."""
    return repo.remove_scheduled(conn, account_id, schedule_id, now)
