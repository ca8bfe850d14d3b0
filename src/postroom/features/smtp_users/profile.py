"""Sending settings (a "profile"): validation, stored form and rate limit, shared by SMTP users and IP auth.

`description` and `status` are columns of their own; the other settings are one JSON column. The
validators raise InvalidInput naming the failing field.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from postroom.errors import InvalidInput
from postroom.features.smtp_users.period import parse_period
from postroom.features.smtp_users.schemas import SETTING_FIELDS, SenderSettings
from postroom.mail.addresses import parse_address

_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


class Profile(msgspec.Struct, frozen=True):
    """Validated settings: `description` and `status` are columns, the rest is JSON."""

    description: str = ""
    status: str = "allowed"
    custom_ratelimit: bool = False
    custom_ratelimit_value: int | None = None
    custom_ratelimit_period: str = "0:00:00"
    custom_ratelimit_seconds: int = 0
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


def _address(field: str, value: str) -> str:
    try:
        return parse_address(value).addr
    except ValueError:
        raise InvalidInput(
            field,
            f"The field '{field}' was expecting a valid RFC-822 formatted email field but found "
            f"'{value}', Please correct your JSON payload and try again.",
        ) from None


def _bounce_notifications(value: str) -> str:
    word = value.strip().lower()
    return word if word in ("from", "drop") else _address("bounce_notifications", value)


def _feedback_domain(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    if not _HOSTNAME.match(domain):
        raise InvalidInput("feedback_domain", f"The field 'feedback_domain' is not a domain name: '{value}'")
    return domain


def _ratelimit(values: dict[str, Any]) -> dict[str, Any]:
    try:
        period = parse_period(values["custom_ratelimit_period"])
    except ValueError:
        raise InvalidInput(
            "custom_ratelimit_period",
            "The field 'custom_ratelimit_period' must look like '<n> [hours|days|weeks|months] "
            f"[hh:mm:ss]', such as '1 hour', '2 days' or '0:30:00', but found "
            f"'{values['custom_ratelimit_period']}'",
        ) from None
    if values["custom_ratelimit"] and values["custom_ratelimit_value"] is None:
        raise InvalidInput("custom_ratelimit_value", "custom_ratelimit_value is required by custom_ratelimit")
    if values["custom_ratelimit"] and period.seconds == 0:
        raise InvalidInput("custom_ratelimit_period", "custom_ratelimit needs a period longer than zero")
    return {"custom_ratelimit_period": period.text, "custom_ratelimit_seconds": period.seconds}


def validated(values: dict[str, Any]) -> Profile:
    """Settings named as in the request, checked and put in their canonical form."""
    audit = values["audit_email"]
    return Profile(
        **{
            **values,
            **_ratelimit(values),
            "audit_email": _address("audit_email", audit) if audit else None,
            "bounce_notifications": _bounce_notifications(values["bounce_notifications"]),
            "feedback_domain": _feedback_domain(values["feedback_domain"]),
        }
    )


def columns(profile: Profile) -> dict[str, Any]:
    """The profile as the columns of a row: description, status, sending_allowed and settings (JSON)."""
    settings = msgspec.structs.asdict(profile)
    description, status = settings.pop("description"), settings.pop("status")
    return {
        "description": description,
        "status": status,
        "sending_allowed": status != "blocked",
        "settings": settings,
    }


def profile_of(row: dict[str, Any]) -> Profile:
    """The profile stored in a row written from `columns`."""
    stored = {**row["settings"], "description": row["description"], "status": row["status"]}
    return msgspec.convert(stored, Profile)


def new_values(
    req: SenderSettings, only: frozenset[str] | None, row: dict[str, Any] | None
) -> dict[str, Any]:
    """POST edit (`only` None): every setting from the request, defaults for the omitted; PATCH: the
    stored settings with only the given ones replaced. Without a stored row both are the request's
    (whose omitted settings hold their defaults)."""
    if only is None or row is None:
        return {name: getattr(req, name) for name in SETTING_FIELDS}
    stored = msgspec.structs.asdict(profile_of(row))
    del stored["custom_ratelimit_seconds"]
    return {**stored, **{name: getattr(req, name) for name in only}}


def ratelimit_of(profile: Profile) -> tuple[int, float] | None:
    """(messages, per seconds) when a custom rate limit is on and complete, else None."""
    if profile.custom_ratelimit and profile.custom_ratelimit_value and profile.custom_ratelimit_seconds:
        return (profile.custom_ratelimit_value, float(profile.custom_ratelimit_seconds))
    return None
