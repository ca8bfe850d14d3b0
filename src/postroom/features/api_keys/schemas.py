"""Request and response shapes of /api_keys/* (reference §7.9).

Every setting has its documented default here, which is what `POST …/edit` resets an omitted
setting to; `PATCH …/edit` changes only the settings present in the body (`given_fields`).
Responses use SMTP2GO's spellings: request `custom_ratelimit` / `ip_pool`, response
`custom_rate_limit` / `ippool`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, field, structs

from postroom.bodies import drop_absent

Status = Literal["allowed", "blocked", "sandbox"]
DEFAULT_ENDPOINTS = ("/email/send",)
MASK = "*" * 20  # the masked key: its 16-character identity, then 20 asterisks (as long as a key)
# No account-wide sending limit exists in Postroom: a key without a custom limit is unlimited.
DEFAULT_RATELIMIT_VALUE: int | None = None
DEFAULT_RATELIMIT_PERIOD = "unlimited"


def _default_endpoints() -> list[str]:
    return list(DEFAULT_ENDPOINTS)


class KeySettings(Struct, kw_only=True):
    """What /api_keys/add sets and the edits change."""

    description: Annotated[str, Meta(max_length=255)] = ""
    custom_ratelimit: bool = False
    custom_ratelimit_value: Annotated[int, Meta(ge=1)] | None = None
    custom_ratelimit_period: str = "0:00:00"
    ip_pool: Annotated[int, Meta(ge=0)] | None = None
    feedback_enabled: bool = False
    feedback_html: str = ""
    feedback_text: str = ""
    open_tracking_enabled: bool = False
    click_tracking_enabled: bool = False
    archive_enabled: bool = False
    audit_email: str | None = None
    bounce_notifications: str = "from"
    status: Status = "allowed"
    endpoints: list[str] = field(default_factory=_default_endpoints)


SETTING_FIELDS = frozenset(f.name for f in structs.fields(KeySettings))


def given_fields(body: dict[str, Any]) -> frozenset[str]:
    """The settings a request body names (null, "" and [] mean absent, as everywhere)."""
    present: dict[str, Any] = drop_absent(body)
    return SETTING_FIELDS & present.keys()


class KeyAddRequest(KeySettings):
    pass


class KeyEditRequest(KeySettings):
    id: str  # the key's 16-character identity or the full key


class KeyViewRequest(Struct):
    id: str = ""
    # a substring of a description, bounded like every search string (activity.match.MAX_SEARCH_LENGTH)
    search: Annotated[str, Meta(max_length=1000)] = ""


class KeyRemoveRequest(Struct):
    id: str


class PermissionsRequest(Struct):
    pass


class KeyResult(Struct, kw_only=True):
    """One key as every /api_keys/* answer shows it; `api_key` is the full key only in add's answer."""

    api_key: str
    username: str
    description: str
    custom_rate_limit: bool
    custom_ratelimit_value: int | None
    custom_ratelimit_period: str
    default_ratelimit_value: int | None = DEFAULT_RATELIMIT_VALUE
    default_ratelimit_period: str = DEFAULT_RATELIMIT_PERIOD
    ippool: int | None
    feedback_enabled: bool
    feedback_html: str
    feedback_text: str
    open_tracking_enabled: bool
    click_tracking_enabled: bool
    archive_enabled: bool
    audit_email: str | None
    bounce_notifications: str
    status: str
    endpoints: list[str]
