"""Scheduled sending: reading `schedule`, and the SQL of /email/scheduled/search and /remove.

`schedule` is an RFC 3339 string, a `YYYY-MM-DD HH:MM:SS` UTC string, or Unix seconds (int or
numeric string), in the future and at most 3 days ahead (decisions.md, reference §4.1). A scheduled
message is stored at once (so it survives restarts); its deliveries are due at the scheduled time.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from postroom.errors import InvalidInput
from postroom.features.activity.match import contains
from postroom.storage.tables import deliveries, events, messages

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


def _pending(account_id: str, now: datetime) -> list[Any]:
    return [
        messages.c.account_id == account_id,
        messages.c.schedule_id.is_not(None),
        messages.c.scheduled_at > now,
    ]


def search(
    conn: Connection, account_id: str, now: datetime, filters: dict[str, str], limit: int, page: int
) -> list[dict[str, Any]]:
    """Scheduled messages not yet due, soonest first, with the seed's filters (substring, any case)."""
    conds = _pending(account_id, now)
    if filters.get("schedule_id"):
        conds.append(messages.c.schedule_id == filters["schedule_id"])
    for name, column in (("subject", messages.c.subject), ("sender", messages.c.sender)):
        if filters.get(name):
            conds.append(contains(column, filters[name]))
    rows = conn.execute(
        select(
            messages.c.schedule_id,
            messages.c.scheduled_at,
            messages.c.sender,
            messages.c.subject,
            messages.c.client_ip,
            messages.c.to_addrs,
            messages.c.cc_addrs,
            messages.c.bcc_addrs,
        )
        .where(*conds)
        .order_by(messages.c.scheduled_at, messages.c.schedule_id)
    ).all()
    found = [dict(r._mapping) for r in rows]
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
    email_id = conn.execute(
        select(messages.c.email_id).where(*_pending(account_id, now), messages.c.schedule_id == schedule_id)
    ).scalar()
    if email_id is None:
        return False
    conn.execute(delete(deliveries).where(deliveries.c.email_id == email_id))
    conn.execute(delete(events).where(events.c.email_id == email_id))
    conn.execute(delete(messages).where(messages.c.email_id == email_id))
    return True
