"""A key's settings: validation and stored form (the JSON `settings` column) and its response shape.

The checks are those of SMTP users (features.smtp_users.profile), so both answer a bad period or
address the same way. A row whose `settings` is null (the bootstrap key, `postroom keys create`)
has every default.
"""

from __future__ import annotations

from typing import Any

import msgspec

from postroom.features.api_keys.schemas import MASK, KeyResult
from postroom.features.smtp_users.profile import Profile, ratelimit_of, validated

_NOT_STORED = ("description", "status", "feedback_domain")


def stored_settings(values: dict[str, Any]) -> dict[str, Any]:
    """The `settings` JSON for settings named as in the request; raises InvalidInput naming the field."""
    given = {name: value for name, value in values.items() if name != "endpoints"}
    settings = msgspec.structs.asdict(validated({**given, "feedback_domain": "default"}))
    for name in _NOT_STORED:
        del settings[name]
    return settings


def profile_of(row: dict[str, Any]) -> Profile:
    stored = {**(row["settings"] or {}), "description": row["description"], "status": row["status"]}
    return msgspec.convert(stored, Profile)


def request_values(row: dict[str, Any]) -> dict[str, Any]:
    """A stored key's settings named as in a request (what a PATCH starts from)."""
    values = msgspec.structs.asdict(profile_of(row))
    del values["custom_ratelimit_seconds"], values["feedback_domain"]
    return {**values, "endpoints": list(row["endpoints"])}


def sending_settings(row: dict[str, Any]) -> dict[str, Any]:
    """What sending with the key takes from its settings: Principal's ratelimit, ip_pool, audit_email."""
    profile = profile_of(row)
    return {
        "ratelimit": ratelimit_of(profile),
        "ip_pool": profile.ip_pool,
        "audit_email": profile.audit_email,
    }


def masked(key_id: str) -> str:
    return key_id + MASK


def result(row: dict[str, Any], api_key: str = "") -> KeyResult:
    """The key as answered: masked unless the full key is given (only /api_keys/add does)."""
    p = profile_of(row)
    return KeyResult(
        api_key=api_key or masked(row["id"]),
        username=row["id"],
        description=p.description,
        custom_rate_limit=p.custom_ratelimit,
        custom_ratelimit_value=p.custom_ratelimit_value,
        custom_ratelimit_period=p.custom_ratelimit_period,
        ippool=p.ip_pool,
        feedback_enabled=p.feedback_enabled,
        feedback_html=p.feedback_html,
        feedback_text=p.feedback_text,
        open_tracking_enabled=p.open_tracking_enabled,
        click_tracking_enabled=p.click_tracking_enabled,
        archive_enabled=p.archive_enabled,
        audit_email=p.audit_email,
        bounce_notifications=p.bounce_notifications,
        status=p.status,
        endpoints=list(row["endpoints"]),
    )
