"""Request and response shapes of /webhook/* (reference §7.14; decisions.md: Webhooks).

`headers` and `usernames` are lists, but a single string is accepted too (SMTP2GO's example sends
them as strings). The seed's `webhook_id` is a synonym of `id`.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Url = Annotated[str, Meta(max_length=2048)]
Name = Annotated[str, Meta(max_length=64)]
HeaderName = Annotated[str, Meta(max_length=200)]
Identity = Annotated[str, Meta(max_length=200)]
WebhookId = Annotated[int, Meta(ge=1, le=2**62)]


class WebhookFields(Struct):
    """The settings of add and edit; on POST edit what is not given returns to its default."""

    url: Url = ""
    events: Annotated[list[Name], Meta(max_length=20)] = []
    sms_events: Annotated[list[Name], Meta(max_length=20)] = []
    headers: Annotated[list[HeaderName], Meta(max_length=50)] | HeaderName = []
    usernames: Annotated[list[Identity], Meta(max_length=1000)] | Identity = []
    output_format: Annotated[str, Meta(max_length=10)] = "form"
    auth_header_type: Annotated[str, Meta(max_length=10)] = ""
    auth_header_value: Annotated[str, Meta(max_length=4096)] = ""
    disabled: bool = False


class WebhookAddRequest(WebhookFields):
    pass


class WebhookEditRequest(WebhookFields):
    """`rotate_secret: true` gives the webhook a new signing secret (shown in the answer)."""

    id: WebhookId = 0
    rotate_secret: bool = False


class WebhookIdRequest(Struct):
    id: WebhookId = 0


class WebhookResult(Struct, omit_defaults=True):
    id: int
    url: str
    events: list[str]
    sms_events: list[str]
    headers: list[str]
    usernames: list[str]
    output_format: str
    auth_header_type: str
    auth_header_value: str
    disabled: bool
    secret: str = ""  # only in the answers of add and edit


class NotificationQuery(Struct):
    """Filters of GET /api/v1/webhooks/{id}/notifications (query parameters)."""

    state: Annotated[str, Meta(max_length=16)] = ""
    event: Annotated[str, Meta(max_length=32)] = ""
    email_id: Annotated[str, Meta(max_length=64)] = ""
    limit: Annotated[int, Meta(ge=1, le=1000)] = 50
    cursor: Annotated[str, Meta(max_length=32)] = ""


class AttemptResult(Struct):
    attempted_at: str
    status_code: int | None
    duration_ms: int
    response_start: str
    error: str


class NotificationResult(Struct):
    id: str
    event: str
    email_id: str
    recipient: str
    state: str  # pending, delivered, failed, cancelled
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str
    created_at: str
    note: str
    attempt_log: list[AttemptResult]


class NotificationPage(Struct):
    notifications: list[NotificationResult]
    next_cursor: str | None


class TestResult(Struct):
    event: str
    id: str
    status_code: int | None
    duration_ms: int
    response_start: str
    error: str
