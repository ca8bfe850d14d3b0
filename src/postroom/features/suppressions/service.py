"""The suppression list of an account: add manual entries, view with filters, remove by type.

Every entry, whatever added it (this API, a hard bounce, a complaint, an unsubscribe), is enforced
on every door: the send path refuses suppressed recipients inside the 200 with a `rejected` event
(features/email/repo.py), SMTP at RCPT TO (550 5.7.1). Nothing is cached, so a removed entry lets
mail through at once in every process. Each account sees and changes only its own list (a master
key acting for a subaccount with `subaccount_id` works on the subaccount's).

`record` and `suppressed_among` are the synchronous part, inside the caller's transaction: what the
delivery queue and the feedback intake record for hard bounces and complaints (stored together with
the outcome that causes them), and the queue's check of a delivery it claims.

Raises InvalidInput for a malformed address or domain, an unknown type in `reasons`, an unreadable
or inverted date, an unknown `sort` or a bad `continue_token`; Conflict (402) when the address or
domain is already suppressed manually.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from postroom.clock import utcnow
from postroom.errors import Conflict, InvalidInput
from postroom.features.activity.dates import parse_date
from postroom.features.suppressions import repo
from postroom.features.suppressions.entries import TYPES, keys_of, normalize
from postroom.features.suppressions.schemas import (
    SuppressionAddRequest,
    SuppressionAddResult,
    SuppressionItem,
    SuppressionRemoved,
    SuppressionRemoveRequest,
    SuppressionRemoveResult,
    SuppressionViewRequest,
    SuppressionViewResult,
)
from postroom.mail.text import describe_char, find_control
from postroom.storage.database import Database

MAX_ID = 2**63 - 1


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


def suppressed_among(conn: Connection, account_id: str, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses (lower-cased) the account's list suppresses (repo.suppressed_among)."""
    return repo.suppressed_among(conn, account_id, addresses)


def entry_of(email_address: str, email: str, domain: str, required: bool = True) -> str:
    """The one address or domain the request names (the seed's `email`/`domain` are synonyms), as
    given; InvalidInput when it names none (and one is required) or names two different ones."""
    given = {v.strip() for v in (email_address, email, domain) if v.strip()}
    if len(given) > 1:
        raise InvalidInput(
            "email_address", "The fields 'email_address', 'email' and 'domain' name the same thing: give one"
        )
    if not given and required:
        raise InvalidInput(
            "email_address", "The field 'email_address' is required: an email address or a domain"
        )
    return given.pop() if given else ""


def plain(field: str, value: str) -> str:
    """The text itself; InvalidInput when it holds a control character (PostgreSQL text cannot even
    store U+0000, and none belongs in an address, a pattern or a description)."""
    bad = find_control(value)
    if bad is not None:
        raise InvalidInput(field, f"The field '{field}' contains the control character {describe_char(bad)}")
    return value


def check_types(field: str, values: list[str]) -> list[str]:
    """The suppression types named, lower case, duplicates dropped; InvalidInput for an unknown one."""
    kinds = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    for kind in kinds:
        if kind not in TYPES:
            raise InvalidInput(
                field, f"The field '{field}' has the unknown value '{kind}': use one of {', '.join(TYPES)}"
            )
    return kinds


def _date(field: str, text: str) -> tuple[datetime, bool]:
    """The date and whether it was given as a day alone (`2026-12-04`)."""
    try:
        return parse_date(text), len(text.strip()) == 10
    except ValueError:
        raise InvalidInput(field, f"The field '{field}' has an unrecognised date format: '{text}'") from None


def date_range(start_text: str, end_text: str) -> tuple[datetime | None, datetime | None]:
    """(inclusive start, exclusive end). An end given as a day includes that whole day, one given to
    the second includes that second (the timestamps shown are to the second)."""
    start = _date("start_date", start_text)[0] if start_text else None
    end = None
    if end_text:
        given, whole_day = _date("end_date", end_text)
        if whole_day:
            end = given + timedelta(days=1)
        else:
            end = given + (timedelta(seconds=1) if not given.microsecond else timedelta(microseconds=1))
    if start is not None and end is not None and end <= start:
        raise InvalidInput("end_date", "The field 'end_date' is before 'start_date'")
    return start, end


def encode_token(at: datetime, last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), last_id]).encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[datetime, int]:
    """(created_at, id) of the last entry of the previous page; InvalidInput for anything else."""
    try:
        at_text, last_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        at = datetime.fromisoformat(at_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        at, last_id = None, None
    if at is None or at.tzinfo is not None or type(last_id) is not int or not 0 <= last_id <= MAX_ID:
        raise InvalidInput("continue_token", "The field 'continue_token' is not a valid token")
    return at, last_id


def _like(wildcard: str) -> str:
    """A LIKE pattern matching entries that hold `wildcard`, where `*` stands for any characters."""
    escaped = wildcard.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped.replace("*", "%") + "%"


def view_filter(account_id: str, req: SuppressionViewRequest) -> repo.ViewFilter:
    """The request's criteria, checked: InvalidInput for a malformed address, type or date."""
    named = [("email_address", entry_of(req.email_address, req.email, req.domain, required=False))]
    named += [("recipient", req.recipient), *(("recipients", r) for r in req.recipients)]
    exact: set[str] = set()
    contains: list[str] = []
    for field, text in named:
        if not text.strip():
            continue
        if req.fuzzy:
            contains.append(plain(field, text).strip().lower())
        else:
            exact |= keys_of(normalize(field, text))
    type_sets = [
        set(
            check_types("suppression_type", [req.suppression_type])
            + check_types("suppression_types", req.suppression_types)
        ),
        set(check_types("reason", [req.reason]) + check_types("reasons", req.reasons)),
    ]
    given = [kinds for kinds in type_sets if kinds]
    types = frozenset(set.intersection(*given)) if given else None
    start, end = date_range(req.start_date, req.end_date)
    return repo.ViewFilter(
        account_id=account_id,
        exact=frozenset(exact),
        contains=tuple(contains),
        pattern=_like(plain("wildcard", req.wildcard)) if req.wildcard.strip() else None,
        types=types,
        start=start,
        end=end,
    )


def _item(r: dict[str, Any]) -> SuppressionItem:
    created: datetime = r["created_at"]
    return SuppressionItem(
        block_description=str(r["block_description"] or ""),
        complaint="" if r["type"] == "manual" else str(r["reason"] or ""),
        email_address=str(r["email_address"]),
        reason=str(r["type"]),
        subject=None if r["subject"] is None else str(r["subject"]),
        timestamp=f"{created:%Y-%m-%d %H:%M:%S}",
    )


class SuppressionService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, account_id: str, req: SuppressionAddRequest) -> SuppressionAddResult:
        """Suppress an address or a whole domain (type `manual`); Conflict when it already is."""
        entry = normalize("email_address", entry_of(req.email_address, req.email, req.domain))
        description = plain("block_description", req.block_description).strip()
        row = repo.row(account_id, entry, "manual", "", None, utcnow(), block_description=description)
        added = await self._db.write(lambda conn: repo.add_one(conn, row))
        if not added:
            raise Conflict(f"{entry} is already on the suppression list (manual)")
        return SuppressionAddResult(added=True, block_description=description, email_address=entry)

    async def view(self, account_id: str, req: SuppressionViewRequest) -> SuppressionViewResult:
        """One page of the account's entries matching the filters, newest first unless `sort: asc`."""
        f = view_filter(account_id, req)
        sort = req.sort.strip().lower()
        if sort not in ("asc", "desc"):
            raise InvalidInput("sort", "The field 'sort' must be 'asc' or 'desc'")
        after = decode_token(req.continue_token) if req.continue_token else None

        def run(conn: Connection) -> SuppressionViewResult:
            rows = repo.page(conn, f, sort == "desc", after, req.limit)
            more = len(rows) > req.limit
            rows = rows[: req.limit]
            token = encode_token(rows[-1]["created_at"], rows[-1]["id"]) if more else None
            total = repo.count(conn, f)
            return SuppressionViewResult(
                results=[_item(r) for r in rows], continue_token=token, total_results=total
            )

        return await self._db.read(run)

    async def remove(self, account_id: str, req: SuppressionRemoveRequest) -> SuppressionRemoveResult:
        """Remove the entry's suppressions of the types in `reasons`; one result per type."""
        entry = normalize("email_address", entry_of(req.email_address, req.email, req.domain))
        kinds = check_types("reasons", req.reasons)
        if not kinds:
            raise InvalidInput("reasons", f"The field 'reasons' is required: a list of {', '.join(TYPES)}")
        removed = await self._db.write(lambda conn: repo.remove(conn, account_id, entry, kinds))
        return SuppressionRemoveResult(
            suppressions=[
                SuppressionRemoved(email_address=entry, reason=k, removed=k in removed) for k in kinds
            ]
        )

    async def suppressed(self, account_id: str, addresses: list[str]) -> set[str]:
        """Which of these recipients (lower-cased) the account's list suppresses (the SMTP door's check)."""
        return await self._db.read(lambda conn: repo.suppressed_among(conn, account_id, addresses))
