"""The statistics: sums over the rollups (never a scan of events), shaped as SMTP2GO answers them.

`email_count`/`emails`/`used` count `processed` events, one per recipient (SMTP2GO counts each
recipient as an email); percentages are of those, except the reject percentage, which is of
everything submitted (emails + rejects, since a rejected recipient has no `processed` event).
/stats/email_summary covers the current cycle (the calendar month), email_bounces, email_spam and
email_unsubs the last 30 days, email_history start_date..end_date (30 days by default).

Raises InvalidInput for a malformed or inverted date, an unknown `group_by`, or a subaccount in
`subaccounts[]` that is not the caller's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from postroom.clock import SYSTEM_CLOCK, Clock
from postroom.errors import InvalidInput
from postroom.features.api_keys.identity import Principal
from postroom.features.stats import repo
from postroom.features.stats.schemas import (
    BouncesResult,
    HistoryRequest,
    HistoryResult,
    HistoryRow,
    SpamResult,
    SummaryResult,
    UnsubsResult,
)
from postroom.features.subaccounts.service import SubaccountService
from postroom.storage.database import Database

GROUPS = {"email_address": "sender", "username": "username", "domain": "domain", "subaccount": "account_id"}
WINDOW = timedelta(days=30)


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _text(part: int, whole: int) -> str:
    return f"{_share(part, whole):.2f}"


def _date(field: str, text: str) -> datetime:
    for layout in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text.strip(), layout)
        except ValueError:
            continue
    raise InvalidInput(field, f"The field '{field}' must be a date such as 2026-01-31")


class Figures(Counter[str]):
    """Counts by activity token, with the derived figures SMTP2GO reports."""

    @property
    def emails(self) -> int:
        return self["processed"]

    @property
    def bounces(self) -> int:
        return self["soft-bounced"] + self["hard-bounced"]


class StatsService:
    def __init__(self, db: Database, subaccounts: SubaccountService, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._subaccounts = subaccounts
        self._clock = clock

    async def _figures(self, accounts: Collection[str], start: str, end: str, username: str = "") -> Figures:
        rows = await self._db.read(lambda conn: repo.totals(conn, accounts, start, end, username))
        return Figures({r["event"]: int(r["count"]) for r in rows})

    async def _recent(self, account_id: str, username: str) -> Figures:
        now = self._clock.now()
        return await self._figures([account_id], _day(now - WINDOW), _day(now), username)

    async def summary(self, account_id: str, username: str = "") -> SummaryResult:
        start, used, plan = await self._subaccounts.cycle(account_id)
        end = (start + timedelta(days=32)).replace(day=1)
        f = await self._figures([account_id], _day(start), _day(end - timedelta(days=1)), username)
        return SummaryResult(
            cycle_start=f"{start:%Y-%m-%d %H:%M:%S}+00:00",
            cycle_end=f"{end:%Y-%m-%d %H:%M:%S}+00:00",
            cycle_used=used,
            cycle_remaining=max(0, plan - used),
            cycle_max=plan,
            email_count=f.emails,
            softbounces=f["soft-bounced"],
            hardbounces=f["hard-bounced"],
            bounce_percent=_text(f.bounces, f.emails),
            spam_emails=f["spam"],
            spam_percent=_text(f["spam"], f.emails),
            unsubscribes=f["unsubscribed"],
            unsubscribe_percent=_text(f["unsubscribed"], f.emails),
            opens=f["opened"],
            clicks=f["clicked"],
            rejects=f["rejected"],
            bounce_rejects=f["rejected"],
            spam_rejects=0,
        )

    async def bounces(self, account_id: str, username: str = "") -> BouncesResult:
        f = await self._recent(account_id, username)
        return BouncesResult(
            f.emails, f["rejected"], f["soft-bounced"], f["hard-bounced"], _text(f.bounces, f.emails)
        )

    async def spam(self, account_id: str, username: str = "") -> SpamResult:
        f = await self._recent(account_id, username)
        return SpamResult(f.emails, f["rejected"], f["spam"], _text(f["spam"], f.emails))

    async def unsubs(self, account_id: str, username: str = "") -> UnsubsResult:
        f = await self._recent(account_id, username)
        return UnsubsResult(f.emails, f["rejected"], f["unsubscribed"], _text(f["unsubscribed"], f.emails))

    async def history(self, principal: Principal, req: HistoryRequest) -> HistoryResult:
        group = GROUPS.get(req.group_by.strip().lower() or "email_address")
        if group is None:
            raise InvalidInput("group_by", f"The field 'group_by' must be one of {', '.join(GROUPS)}")
        now = self._clock.now()
        start = _date("start_date", req.start_date) if req.start_date else now - WINDOW
        end = _date("end_date", req.end_date) if req.end_date else max(now, start)
        if end < start:
            raise InvalidInput("end_date", "The field 'end_date' is before 'start_date'")
        accounts = await self._accounts(principal, req.subaccounts)
        rows = await self._db.read(
            lambda conn: repo.totals(conn, accounts, _day(start), _day(end), req.username, group)
        )
        verified = (
            await self._db.read(lambda conn: repo.verified_domains(conn, accounts))
            if group == "domain"
            else set()
        )
        return _history(rows, req.group_by.strip().lower() or "email_address", verified)

    async def _accounts(self, principal: Principal, subaccounts: list[str]) -> list[str]:
        """The caller's own account, plus the named subaccounts (a master's own only)."""
        if not subaccounts:
            return [principal.account_id]
        if not principal.is_master:
            raise InvalidInput("subaccounts", "Only a master account's key can name subaccounts")
        own = set(await self._subaccounts.ids_of(principal.account_id))
        named = [s.strip().lower() for s in subaccounts if s.strip()]
        for name in named:
            if name not in own:
                raise InvalidInput("subaccounts", f"{name!r} is not one of this account's subaccounts")
        return [principal.account_id, *named]


def _history(rows: list[dict[str, Any]], group_by: str, verified: set[str]) -> HistoryResult:
    by_key: dict[str, Figures] = {}
    sizes: dict[str, int] = {}
    ips: dict[str, str] = {}
    for r in rows:
        key = str(r["key"])
        by_key.setdefault(key, Figures())[r["event"]] += int(r["count"])
        sizes[key] = sizes.get(key, 0) + int(r["bytes"])
        ips[key] = max(ips.get(key, ""), r["last_ip"] or "")
    history = []
    for key in sorted(by_key):
        f = by_key[key]
        row = HistoryRow(
            lastip=ips[key],
            used=f.emails,
            bytecount=sizes[key],
            avgsize=round(sizes[key] / f.emails, 2) if f.emails else 0.0,
            bounces=f.bounces,
            clicks=f["clicked"],
            opens=f["opened"],
            rejects=f["rejected"],
            spam=f["spam"],
            unsubscribes=f["unsubscribed"],
            bounce_percent=_share(f.bounces, f.emails),
            open_percent=_share(f["opened"], f.emails),
            reject_percent=_share(f["rejected"], f.emails + f["rejected"]),
            spam_percent=_share(f["spam"], f.emails),
            unsubscribe_percent=_share(f["unsubscribed"], f.emails),
        )
        if group_by == "email_address":
            row.email_address = key
        elif group_by == "username":
            row.username, row.description = key, ""
        elif group_by == "domain":
            row.domain, row.domain_verified = key, key in verified
        else:
            row.subaccount = key
        history.append(row)
    total = Figures()
    for f in by_key.values():
        total.update(f)
    return HistoryResult(
        count=len(history),
        bounce_percent_total=_share(total.bounces, total.emails),
        open_percent_total=_share(total["opened"], total.emails),
        reject_percent_total=_share(total["rejected"], total.emails + total["rejected"]),
        spam_percent_total=_share(total["spam"], total.emails),
        unsubscribe_percent_total=_share(total["unsubscribed"], total.emails),
        history=history,
    )
