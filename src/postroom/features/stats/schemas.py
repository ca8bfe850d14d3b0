"""Request and response shapes of /stats/* (reference §7.1; decisions.md: Statistics).

Percentages are strings with two decimals ("0.00") everywhere except /stats/email_history, whose
schema has numbers. `username` is a sender identity: an API key's 16 characters or an SMTP username.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Identity = Annotated[str, Meta(max_length=200)]
Date = Annotated[str, Meta(max_length=40)]


class UsernameRequest(Struct):
    username: Identity = ""


class HistoryRequest(Struct):
    group_by: Annotated[str, Meta(max_length=20)] = "email_address"
    start_date: Date = ""
    end_date: Date = ""
    subaccounts: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=1000)] = []
    username: Identity = ""


class SummaryResult(Struct):
    cycle_start: str
    cycle_end: str
    cycle_used: int
    cycle_remaining: int
    cycle_max: int
    email_count: int
    softbounces: int
    hardbounces: int
    bounce_percent: str
    spam_emails: int
    spam_percent: str
    unsubscribes: int
    unsubscribe_percent: str
    opens: int
    clicks: int
    rejects: int
    bounce_rejects: int
    spam_rejects: int


class BouncesResult(Struct):
    emails: int
    rejects: int
    softbounces: int
    hardbounces: int
    bounce_percent: str


class SpamResult(Struct):
    emails: int
    rejects: int
    spams: int
    spam_percent: str


class UnsubsResult(Struct):
    emails: int
    rejects: int
    unsubscribes: int
    unsubscribe_percent: str


class HistoryRow(Struct, omit_defaults=True):
    lastip: str
    used: int
    bytecount: int
    avgsize: float
    bounces: int
    clicks: int
    opens: int
    rejects: int
    spam: int
    unsubscribes: int
    bounce_percent: float
    open_percent: float
    reject_percent: float
    spam_percent: float
    unsubscribe_percent: float
    email_address: str | None = None
    username: str | None = None
    description: str | None = None
    domain: str | None = None
    domain_verified: bool | None = None
    subaccount: str | None = None


class HistoryResult(Struct):
    count: int
    bounce_percent_total: float
    open_percent_total: float
    reject_percent_total: float
    spam_percent_total: float
    unsubscribe_percent_total: float
    history: list[HistoryRow]
