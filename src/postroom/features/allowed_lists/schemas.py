"""Request and response shapes of /allowed_senders/* and /allowed_recipients/* (reference §7.6).

`update` needs its list even when it is empty (`[]` replaces the list with nothing), so it is
checked by `require_list`: the body decoding reads `[]` as "absent" everywhere else (decisions.md).
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct

from postroom.bodies import drop_absent
from postroom.errors import InvalidInput

SenderMode = Literal["whitelist", "blacklist", "disabled"]


class SendersRequest(Struct):
    """/allowed_senders/add and /allowed_senders/remove."""

    allowed_senders: list[str]


class SendersUpdateRequest(Struct):
    mode: SenderMode
    allowed_senders: list[str] = []


class SendersResult(Struct):
    allowed_senders: list[str]
    mode: str


class RecipientsRequest(Struct):
    """/allowed_recipients/add and /allowed_recipients/remove; `enabled`, when given, is set too
    (`enabled_given` says whether it was: typed `bool` so that "yes"/"off" are read as booleans)."""

    allowed_recipients: list[str]
    enabled: bool = False


class RecipientsUpdateRequest(Struct):
    enabled: bool
    allowed_recipients: list[str] = []


class RecipientsResult(Struct):
    allowed_recipients: list[str]
    enabled: bool


def enabled_given(body: dict[str, Any], req: RecipientsRequest) -> bool | None:
    """The request's `enabled` when the body gives it, else None (null and "" mean absent)."""
    return req.enabled if "enabled" in drop_absent(body) else None


def require_list(body: dict[str, Any], field: str) -> None:
    """Raise InvalidInput unless the body gives `field` as a list (an empty one counts)."""
    if not isinstance(body.get(field), list):
        raise InvalidInput(field, f"The field '{field}' is required: a list of email addresses and domains")
