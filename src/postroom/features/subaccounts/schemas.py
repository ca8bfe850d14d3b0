"""Request and response shapes of /subaccount/* and /subaccounts/search (reference §7.13)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

# the plan sizes SMTP2GO offers (emails a month)
PLAN_SIZES = (
    2000,
    5000,
    10000,
    20000,
    30000,
    40000,
    50000,
    60000,
    80000,
    100000,
    250000,
    500000,
    1_000_000,
    2_000_000,
    3_000_000,
    5_000_000,
    10_000_000,
)
DEDICATED_IP_MIN_PLAN = 100000  # a dedicated IP only comes with a plan above this
MAX_INTEGER = 2**31 - 1  # the largest value of an INTEGER column on PostgreSQL (SQLite's is 2**63 - 1)

Name = Annotated[str, Meta(min_length=1, max_length=255)]
Email = Annotated[str, Meta(max_length=255)]


class SubaccountFields(Struct, kw_only=True):
    """The settings add takes (with their defaults) and edit changes when given."""

    subaccount_email: Email = ""
    limit: int = 10000
    dedicated_ip: bool = False
    archiving: bool = False
    enforce_2fa: bool = False
    enable_sms: bool = False
    sms_limit: Annotated[int, Meta(ge=0, le=MAX_INTEGER)] = 1000
    ip_pool: int | None = None


class SubaccountAddRequest(SubaccountFields, kw_only=True):
    fullname: Name


class SubaccountEditRequest(SubaccountFields, kw_only=True):
    id: str
    fullname: Name | None = None


class SubaccountIdRequest(Struct, kw_only=True):
    """close, reopen and reinvite: the subaccount's id (`email` is accepted and not needed)."""

    id: str
    email: str = ""


class SubaccountSearchRequest(Struct, kw_only=True):
    fuzzy_search: bool = True
    search_terms: list[str] = []
    states: Literal["all", "active", "closed", "suspended"] = "all"
    sort_direction: Literal["asc", "desc", "ASC", "DESC"] = "asc"
    page_size: Annotated[int, Meta(ge=1, le=1000)] = 100
    continue_token: str = ""


class SubaccountResult(Struct, kw_only=True):
    name: str
    email: str
    id: str
    plan_size: int
    plan_used: int
    plan_remaining: int
    state: str  # "Active" | "Closed"
    dedicated_ip: bool
    archiving: bool
    enforce_2fa: bool
    sms_enabled: bool
    sms_limit: int


class SubaccountSearchResult(Struct, kw_only=True):
    continue_token: str
    total_count: int
    subaccounts: list[SubaccountResult]


class EmailCycleResult(Struct, kw_only=True):
    """/stats/email_cycle: the calendar month as the plan's cycle."""

    cycle_start: str
    cycle_end: str
    cycle_used: int
    cycle_remaining: int
    cycle_max: int
