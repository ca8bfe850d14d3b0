"""Request and response shapes of /email/send, /email/mime and /email/batch (reference §4)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

Recipients = Annotated[list[str], Meta(max_length=100)]


class CustomHeader(Struct):
    header: str
    value: str


class FileItem(Struct):
    """An attachment or an inline. `cid` is the seed's name for an inline's Content-ID.

    `mimetype` may be `false`: smtp2go-nodejs sends what `mime-types` `lookup()` returns, which is
    false for an extension it does not know. Any boolean means "not given".
    """

    filename: Annotated[str, Meta(max_length=255)]
    fileblob: str = ""
    mimetype: str | bool = ""
    url: str = ""
    cid: str = ""


class SendRequest(Struct):
    sender: str
    to: Recipients
    cc: Recipients = []
    bcc: Recipients = []
    subject: str = ""
    text_body: str = ""
    html_body: str = ""
    custom_headers: list[CustomHeader] = []
    attachments: list[FileItem] = []
    inlines: list[FileItem] = []
    template_id: str = ""
    template_data: dict[str, Any] | str | None = None
    schedule: str | int | None = None
    fastaccept: bool = False
    version: int = 2
    reply_to: str | list[str] = ""
    subaccount_id: str = ""


class MimeRequest(Struct):
    mime_email: str
    schedule: str | int | None = None
    fastaccept: bool = False


class BatchRequest(Struct):
    emails: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=100)]


class SendResult(Struct):
    succeeded: int = 0
    failed: int = 0
    failures: list[str] = msgspec.field(default_factory=list)
    email_id: str = ""
    schedule_id: str | msgspec.UnsetType = msgspec.UNSET  # only for a scheduled message


class FastAcceptResult(Struct):
    email_id: str
    schedule_id: str | msgspec.UnsetType = msgspec.UNSET


class BatchItemError(Struct):
    succeeded: int
    failed: int
    failures: list[str]
    email_id: str
    error: str
    error_code: str
    field_validation_errors: dict[str, str]


class ScheduledSearchRequest(Struct):
    schedule_id: str = ""
    search_subject: str = ""
    search_recipient: str = ""
    search_sender: str = ""
    limit: Annotated[int, Meta(ge=1, le=10000)] = 1000
    page: Annotated[int, Meta(ge=1)] = 1


class ScheduledItem(Struct):
    schedule_id: str
    schedule: str  # RFC 3339
    sender: str
    subject: str
    recipients: str
    client_ip: str


class ScheduledRemoveRequest(Struct):
    schedule_id: str
