"""Activity search over the events table (the single source of what happened), and /email/search.

Raises InvalidInput for an unreadable date or continue_token, and for a search string that is too
long, has too many alternatives or holds a NUL (match.check_search).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection

from postroom.clock import rfc3339, utcnow
from postroom.errors import InvalidInput
from postroom.features.activity import repo
from postroom.features.activity.dates import parse_date
from postroom.features.activity.match import check_alternatives, check_search
from postroom.features.activity.schemas import (
    ActivityEvent,
    ActivitySearchRequest,
    ActivitySearchResult,
    DeliveryAttempt,
    EmailSearchItem,
    EmailSearchRequest,
    EmailSearchResult,
    HeaderPair,
)
from postroom.features.api_keys.service import Principal
from postroom.mail.parse import header_items, split_header
from postroom.storage.database import Database

_TERM = re.compile(r"(?:(\w+):)?(\"[^\"]*\"|\S+)")
MAX_ID = 2**63 - 1  # the largest id a BIGINT column holds
PROCESS_STATUS = {
    "queued": "processing",
    "delivered": "completed",
    "bounced": "completed",
    "rejected": "completed",
}


def _date(field: str, value: str, fallback: datetime) -> datetime:
    if not value:
        return fallback
    try:
        return parse_date(value)
    except ValueError:
        raise InvalidInput(field, f"The field '{field}' has an unrecognised date format: '{value}'") from None


def _alternatives(field: str, value: str) -> list[str]:
    """`'a | b'` means a OR b; InvalidInput for a value check_search refuses or too many alternatives."""
    check_search(field, value)
    return check_alternatives(field, [part.strip() for part in value.split("|") if part.strip()])


def encode_token(upper: int, after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([upper, after]).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, int]:
    """(snapshot upper bound, last id seen) of a token encode_token made; InvalidInput otherwise.

    Both must be integers in 0..MAX_ID (a database id), not floats, Infinity or huge numbers.
    """
    try:
        upper, after = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        upper = after = None
    if not all(type(v) is int and 0 <= v <= MAX_ID for v in (upper, after)):
        raise InvalidInput("continue_token", "The field 'continue_token' is not a valid token")
    return upper, after


def _headers_of(head: bytes, names: list[str]) -> dict[str, str]:
    """The first value of each named header (never raises: an unreadable value is given raw)."""
    found: dict[str, str] = {}
    for key, value in header_items(head):
        for name in names:
            if name not in found and key.lower() == name.lower():
                found[name] = value
    return found


def _event(
    row: dict[str, Any],
    attempts: list[dict[str, Any]],
    head: bytes | None,
    header_names: list[str],
    include_headers: bool,
) -> ActivityEvent:
    recipients = row["to_addrs"] + row["cc_addrs"] + row["bcc_addrs"]
    return ActivityEvent(
        email_id=row["email_id"],
        date=rfc3339(row["created_at"]),
        event=row["event"],
        sender=row["sender"],
        sender_full=row["from_header"],
        recipient=row["recipient"],
        recipients=recipients,
        to=", ".join(row["to_addrs"]),
        cc=", ".join(row["cc_addrs"]),
        bcc=", ".join(row["bcc_addrs"]),
        reply_to=row["reply_to"],
        subject=row["subject"],
        username=row["username"],
        subaccount_name=row["account_name"],
        smtp_response=row["smtp_response"],
        reason=row["reason"],
        host=row["host"],
        originating_host=row["client_ip"],
        error="",
        email_client=None,
        metadata=None,
        outbound_ip="",
        byte_size=row["size"],
        headers=split_header(head)[0].decode("utf-8", "replace") if include_headers and head else "",
        custom_headers=_headers_of(head, header_names) if head and header_names else {},
        delivery_attempts=[
            DeliveryAttempt(rfc3339(a["created_at"]), a["host"], a["smtp_response"]) for a in attempts
        ]
        if row["event"] == "processed"
        else [],
        from_=row["sender"],
    )


def _filter(principal: Principal, req: ActivitySearchRequest) -> repo.EventFilter:
    now = utcnow()
    start = _date("start_date", req.start_date, datetime.combine(now.date(), time.min))
    end = _date("end_date", req.end_date, now + timedelta(seconds=1))
    types: list[str] = [*req.event_types, *([req.event_type] if req.event_type else [])]
    return repo.EventFilter(
        account_id=principal.account_id,
        start=start,
        end=end,
        any_text=_alternatives("search", req.search),
        email_ids=_alternatives("search_email_id", req.search_email_id),
        subjects=_alternatives("search_subject", req.search_subject),
        senders=_alternatives("search_sender", req.search_sender),
        recipients=_alternatives("search_recipient", req.search_recipient),
        usernames=[check_search("search_usernames", u) for u in req.search_usernames],
        event_types=types,
        only_latest=req.only_latest or req.only_latest_by_sent,
    )


class ActivityService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(self, principal: Principal, req: ActivitySearchRequest) -> ActivitySearchResult:
        f = _filter(principal, req)
        token = decode_token(req.continue_token) if req.continue_token else None
        return await self._db.read(lambda conn: self._search(conn, f, req, token))

    def _search(
        self, conn: Connection, f: repo.EventFilter, req: ActivitySearchRequest, token: tuple[int, int] | None
    ) -> ActivitySearchResult:
        upper, after = token if token else (repo.max_event_id(conn), None)
        rows, total = repo.search_events(conn, f, upper, after, req.limit)
        more = len(rows) > req.limit
        rows = rows[: req.limit]
        attempts = repo.attempts_for(
            conn, [r["delivery_id"] for r in rows if r["event"] == "processed" and r["delivery_id"]]
        )
        want_heads = req.include_headers or bool(req.custom_headers)
        heads = repo.header_sections(conn, list({r["email_id"] for r in rows})) if want_heads else {}
        items = [
            _event(
                r,
                attempts.get(r["delivery_id"], []),
                heads.get(r["email_id"]),
                list(req.custom_headers),
                req.include_headers,
            )
            for r in rows
        ]
        next_token = encode_token(upper, rows[-1]["id"]) if more else None
        return ActivitySearchResult(events=items, total_events=total, continue_token=next_token)

    async def email_search(self, principal: Principal, req: EmailSearchRequest) -> EmailSearchResult:
        now = utcnow()
        start = _date("start_date", req.start_date, datetime.combine(now.date(), time.min))
        end = _date("end_date", req.end_date, now + timedelta(seconds=1))
        after = decode_token(req.continue_token)[1] if req.continue_token else None
        terms = [
            (m[1] or "", m[2].strip('"'))
            for m in _TERM.finditer(check_search("filter_query", req.filter_query))
            if m[2].upper() not in {"AND", "OR"}
        ]
        check_alternatives("filter_query", terms)
        email_ids = [check_search("email_id", e) for e in req.email_id]

        def run(conn: Connection) -> EmailSearchResult:
            rows = repo.search_deliveries(
                conn, principal.account_id, start, end, email_ids, terms, after, req.limit
            )
            more = len(rows) > req.limit
            rows = rows[: req.limit]
            attempts = repo.attempts_for(conn, [r["id"] for r in rows])
            heads = repo.header_sections(conn, list({r["email_id"] for r in rows}))
            emails = [_email_item(r, attempts.get(r["id"], []), heads.get(r["email_id"], b"")) for r in rows]
            token = encode_token(0, rows[-1]["id"]) if more else None
            return EmailSearchResult(count=len(emails), emails=emails, continue_token=token)

        return await self._db.read(run)


def _email_item(row: dict[str, Any], attempts: list[dict[str, Any]], head: bytes) -> EmailSearchItem:
    last = attempts[-1] if attempts else None
    response = row["last_response"]
    code = int(response[:3]) if response[:3].isdigit() else 0
    return EmailSearchItem(
        email_id=row["email_id"],
        sender=row["sender"],
        recipient=row["recipient"],
        subject=row["subject"],
        email_ts=rfc3339(row["created_at"]),
        delivered_at=rfc3339(row["updated_at"]) if row["status"] == "delivered" else None,
        process_status=PROCESS_STATUS.get(row["status"], "processing"),
        status=row["status"],
        response=response,
        host=last["host"] if last else "",
        smtpcode=code,
        headers=[HeaderPair(k, v) for k, v in header_items(head)] if head else [],
    )
