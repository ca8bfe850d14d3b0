"""Request and response shapes of /activity/search (reference §5) and /email/search (§4.5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field

MAX_LIST = 100  # names in a list filter (usernames, subaccounts, event types)
MAX_EMAIL_IDS = 5000  # email ids of one /email/search, as many as one page holds

EventType = Literal[
    "processed",
    "soft-bounced",
    "hard-bounced",
    "rejected",
    "spam",
    "delivered",
    "unsubscribed",
    "resubscribed",
    "opened",
    "clicked",
]


class ActivitySearchRequest(Struct):
    start_date: str = ""
    end_date: str = ""
    search: str = ""
    search_email_id: str = ""
    search_subject: str = ""
    search_sender: str = ""
    search_recipient: str = ""
    search_usernames: Annotated[list[str], Meta(max_length=MAX_LIST)] = []
    subaccounts: Annotated[list[str], Meta(max_length=MAX_LIST)] = []
    limit: Annotated[int, Meta(ge=1, le=1000)] = 100
    continue_token: str = ""
    only_latest: bool = False
    only_latest_by_sent: bool = False
    event_types: Annotated[list[EventType], Meta(max_length=MAX_LIST)] = []
    event_type: EventType | None = None  # the seed's single-value synonym
    include_headers: bool = False
    custom_headers: list[str] = []
    region: str = ""


class DeliveryAttempt(Struct):
    smtptime: str
    host: str
    smtpresponse: str


class ActivityEvent(Struct):
    email_id: str
    date: str
    event: str
    sender: str
    sender_full: str
    recipient: str
    recipients: list[str]
    to: str
    cc: str
    bcc: str
    reply_to: str
    subject: str
    username: str
    subaccount_name: str
    smtp_response: str
    reason: str
    host: str
    originating_host: str
    error: str
    email_client: dict[str, Any] | None
    metadata: dict[str, Any] | None
    outbound_ip: str
    byte_size: int
    headers: str
    custom_headers: dict[str, str]
    delivery_attempts: list[DeliveryAttempt]
    from_: str = field(default="", name="from")


class ActivitySearchResult(Struct):
    events: list[ActivityEvent]
    total_events: int
    continue_token: str | None


class EmailSearchRequest(Struct):
    start_date: str = ""
    end_date: str = ""
    limit: Annotated[int, Meta(ge=1, le=5000)] = 5000
    continue_token: str = ""
    email_id: Annotated[list[str], Meta(max_length=MAX_EMAIL_IDS)] = []
    filter_query: str = ""


class HeaderPair(Struct):
    key: str
    value: str


class EmailSearchItem(Struct):
    email_id: str
    sender: str
    recipient: str
    subject: str
    email_ts: str
    delivered_at: str | None
    process_status: str
    status: str
    response: str
    host: str
    smtpcode: int
    headers: list[HeaderPair]


class EmailSearchResult(Struct):
    count: int
    emails: list[EmailSearchItem]
    continue_token: str | None
