"""Feedback intake: a report sent to a VERP return path becomes events on the delivery it is about.

A DSN's failed recipients become `hard-bounced` events (the delivery ends as bounced and the recipient
is suppressed), delayed ones `soft-bounced`; an ARF complaint becomes a `spam` event and a suppression.
The delivery is found from the signed return path (reliable) or else from the returned message's
Message-ID and the reported recipient. Every report is kept with what was understood of it, matched
or not, so nothing that arrives is dropped (`postroom feedback list` shows them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Connection

from postroom.clock import utcnow
from postroom.delivery.simulator import SIMULATOR_DOMAIN
from postroom.delivery.wire import VERP_SECRET
from postroom.features.feedback import repo
from postroom.features.suppressions import service as suppressions
from postroom.mail import verp
from postroom.mail.feedback import DsnRecipient, Feedback, parse_feedback
from postroom.storage.database import Database
from postroom.storage.state import shared_secret


@dataclass(frozen=True)
class Received:
    """What became of one report: its stored id, its kind, and the events it produced."""

    feedback_id: int
    kind: str
    events: int


class FeedbackService:
    def __init__(self, db: Database, return_path_domain: str) -> None:
        self._db = db
        self._domain = return_path_domain
        self._secret: bytes | None = None

    def is_return_path(self, address: str) -> bool:
        """Whether mail to this address is feedback (accepted without AUTH, never relayed)."""
        return verp.is_return_path(address, self._domain)

    async def receive(self, rcpt_tos: list[str], raw: bytes) -> Received:
        """Parse, match and record a report; always keeps it. Raises StorageUnavailable only."""
        if self._secret is None:
            self._secret = await self._db.write(lambda c: shared_secret(c, VERP_SECRET))
        secret = self._secret
        feedback = await anyio.to_thread.run_sync(parse_feedback, raw)
        ids = [d for d in (verp.delivery_of(r, secret) for r in rcpt_tos if self.is_return_path(r)) if d]
        rcpt = next((r for r in rcpt_tos if self.is_return_path(r)), rcpt_tos[0] if rcpt_tos else "")
        now = utcnow()
        return await self._db.write(lambda c: _record(c, feedback, ids[0] if ids else None, rcpt, raw, now))


def _record(
    conn: Connection, fb: Feedback, verp_id: int | None, rcpt: str, raw: bytes, now: datetime
) -> Received:
    base = repo.delivery(conn, verp_id) if verp_id else None
    email_id = base["email_id"] if base else _email_id(conn, fb.original_message_id)
    made = 0
    if fb.kind == "dsn":
        for entry in fb.recipients:
            target = _target(conn, base, email_id, entry.final_recipient or entry.original_recipient)
            if target and entry.bounce in ("hard", "soft"):
                _bounce(conn, target, entry.bounce, _response(entry), entry.remote_mta, fb.reporting_mta, now)
                made += 1
    elif fb.kind == "arf" and fb.report is not None:
        target = _target(conn, base, email_id, fb.report.original_rcpt_to)
        if target:
            _complaint(conn, target, fb.report.feedback_type, fb.report.user_agent, now)
            made += 1
    elif base and fb.guessed_bounce in ("hard", "soft"):
        _bounce(conn, base, fb.guessed_bounce, fb.guessed_status, "", "an unstructured bounce", now)
        made += 1
    matched = base or (_target(conn, None, email_id, _first_recipient(fb)) if email_id else None)
    row = {
        "received_at": now,
        "kind": fb.kind,
        "rcpt_to": rcpt,
        "delivery_id": matched["id"] if matched else None,
        "summary": fb.summary()
        + ("" if made else "; no delivery matched" if not matched else "; nothing to do"),
        "raw": raw,
    }
    return Received(repo.keep(conn, row), fb.kind, made)


def _email_id(conn: Connection, message_id: str) -> str | None:
    """Postroom's own Message-IDs are `<email_id@domain>`: the returned headers can name the message."""
    local = message_id.strip().lstrip("<").partition("@")[0]
    return local if local and len(local) <= 32 and repo.message_exists(conn, local) else None


def _target(
    conn: Connection, base: dict[str, Any] | None, email_id: str | None, recipient: str
) -> dict[str, Any] | None:
    if base and (not recipient or recipient.lower() == base["recipient"].lower()):
        return base
    if email_id and recipient:
        return repo.delivery_of_message(conn, email_id, recipient)
    return base


def _first_recipient(fb: Feedback) -> str:
    if fb.recipients:
        return fb.recipients[0].final_recipient
    return fb.report.original_rcpt_to if fb.report else ""


def _response(entry: DsnRecipient) -> str:
    return entry.diagnostic_code or entry.status


def _bounce(
    conn: Connection, target: dict[str, Any], kind: str, response: str, host: str, via: str, now: datetime
) -> None:
    name = "hard-bounced" if kind == "hard" else "soft-bounced"
    repo.add_event(conn, target, name, now, smtp_response=response, host=host, reason=f"reported by {via}")
    if kind == "hard":
        repo.mark_bounced(conn, target["id"], response, now)
        _suppress(conn, target, "bounce", response, now)


def _complaint(
    conn: Connection, target: dict[str, Any], feedback_type: str, agent: str, now: datetime
) -> None:
    reason = f"{feedback_type or 'abuse'} report" + (f" from {agent}" if agent else "")
    repo.add_event(conn, target, "spam", now, reason=reason)
    _suppress(conn, target, "spam", reason, now)


def _suppress(conn: Connection, target: dict[str, Any], kind: str, reason: str, now: datetime) -> None:
    if target["recipient"].rpartition("@")[2].lower() != SIMULATOR_DOMAIN:
        entry = suppressions.Suppression(
            target["account_id"], target["recipient"], kind, reason, target["email_id"]
        )
        suppressions.record(conn, [entry], now)


def recent(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The newest reports received, newest first (`postroom feedback list`)."""
    return repo.recent(conn, limit)


def raw_report(conn: Connection, feedback_id: int) -> bytes | None:
    """A report exactly as it arrived; None when there is no such report."""
    return repo.raw(conn, feedback_id)
