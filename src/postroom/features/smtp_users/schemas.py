"""Request and response shapes of /users/smtp/* (reference §7.10).

Every setting has its documented default here, which is what `POST …/edit` resets an omitted
setting to; `PATCH …/edit` changes only the settings present in the body (`given_fields`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct, structs

from postroom.bodies import drop_absent

USERNAME_CHAR = r"[A-Za-z0-9._@+\-]"
Username = Annotated[str, Meta(min_length=5, max_length=100, pattern=f"^{USERNAME_CHAR}+$")]
Password = Annotated[str, Meta(min_length=8, max_length=256)]
Status = Literal["allowed", "blocked", "sandbox"]
MASKED_PASSWORD = "********"


class SenderSettings(Struct, kw_only=True):
    """The sending settings of an SMTP user, which IP auth entries (features.ip_access) share."""

    description: str = ""
    custom_ratelimit: bool = False
    custom_ratelimit_value: Annotated[int, Meta(ge=1)] | None = None
    custom_ratelimit_period: str = "0:00:00"
    ip_pool: int | None = None
    feedback_enabled: bool = False
    feedback_domain: str = "default"
    feedback_html: str = ""
    feedback_text: str = ""
    open_tracking_enabled: bool = False
    click_tracking_enabled: bool = False
    archive_enabled: bool = False
    audit_email: str | None = None
    bounce_notifications: str = "from"
    status: Status = "allowed"


class SmtpUserRequest(SenderSettings):
    """/users/smtp/add and both edits: a blank `email_password` means "generate" on add, "keep" on edit."""

    username: Username
    email_password: Password | None = None


SETTING_FIELDS = frozenset(f.name for f in structs.fields(SenderSettings))


def given_fields(body: dict[str, Any]) -> frozenset[str]:
    """The settings a request body names (null, "" and [] mean absent, as everywhere)."""
    present: dict[str, Any] = drop_absent(body)
    return SETTING_FIELDS & present.keys()


class SmtpUserViewRequest(Struct):
    username: str = ""


class SmtpUserRemoveRequest(Struct):
    username: str


class SenderResult(Struct, kw_only=True):
    """The settings as a response shows them (SMTP users and IP auth entries)."""

    sending_allowed: bool
    custom_ratelimit: bool
    custom_ratelimit_value: int | None
    custom_ratelimit_period: str
    description: str
    feedback_enabled: bool
    feedback_domain: str
    feedback_html: str
    feedback_text: str
    archive_enabled: bool
    open_tracking_enabled: bool
    click_tracking_enabled: bool
    audit_email: str | None
    bounce_notifications: str
    status: str


class SmtpUserResult(SenderResult):
    username: str
    email_password: str


class SmtpUsersResult(Struct):
    """The `data` of add, POST edit, view and remove; PATCH edit answers a bare list of results."""

    results: list[SmtpUserResult]
    default_ratelimit_value: int | None = None
    default_ratelimit_period: str = "unlimited"
