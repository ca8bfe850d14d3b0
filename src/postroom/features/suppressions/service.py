"""Adding to the suppression list: what the delivery queue records for hard bounces and complaints.

Synchronous and inside the caller's transaction, so an outcome and the suppression it causes are
stored together. The SQL is repo.py's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from postroom.features.suppressions import repo


@dataclass(frozen=True)
class Suppression:
    """One address to stop mailing for an account: `kind` is "bounce" or "spam"."""

    account_id: str
    address: str
    kind: str
    reason: str
    email_id: str | None


def record(conn: Connection, entries: Iterable[Suppression], now: datetime) -> None:
    """Suppress each address (lower-cased); one already suppressed for the same kind stays as it was."""
    rows = [repo.row(s.account_id, s.address, s.kind, s.reason, s.email_id, now) for s in entries]
    repo.add_many(conn, rows)
