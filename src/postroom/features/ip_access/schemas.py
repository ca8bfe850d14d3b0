"""Request and response shapes of /ip_auth/* and /ip_allow_list* (reference §7.11, §7.12).

IP auth entries take the same settings as SMTP users (smtp_users.schemas.SenderSettings), with
the same defaults: `POST /ip_auth/edit` resets an omitted setting to its default, `PATCH` changes
only the settings present in the body (smtp_users.schemas.given_fields).
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from postroom.features.smtp_users.schemas import SenderResult, SenderSettings

AllowListType = Literal["smtp", "api"]


class IpAuthRequest(SenderSettings):
    """Both edits; an address that has no entry yet gets one (there is no /ip_auth/add)."""

    ip_address: str


class IpAuthViewRequest(Struct):
    ip_address: str = ""


class IpAuthRemoveRequest(Struct):
    ip_address: str


class IpAuthResult(SenderResult):
    ip_address: str


class IpAuthsResult(Struct):
    """The `data` of view, POST edit and remove; PATCH edit answers a bare list of results."""

    results: list[IpAuthResult]
    default_ratelimit_value: int | None = None
    default_ratelimit_period: str = "unlimited"


class AllowListEnableRequest(Struct):
    enabled: bool
    type: AllowListType = "smtp"


class AllowListEnableResult(Struct):
    enabled: bool


class AllowListViewRequest(Struct):
    type: AllowListType = "smtp"


class AllowListEntry(Struct):
    """One entry: `ip_address` is a single address (without a prefix length) or a CIDR range; a
    request may name a single address either way (`198.51.100.7` or `198.51.100.7/32`)."""

    ip_address: str
    description: str


class AllowListResult(Struct):
    enabled: bool
    ip_addresses: list[AllowListEntry]


class AllowListAddRequest(Struct):
    ip_address: str
    description: str = ""
    type: AllowListType = "smtp"


class AllowListEditRequest(Struct):
    """`new_ip_address` and `description` are each kept as they are when not given."""

    ip_address: str
    new_ip_address: str = ""
    description: str | None = None
    type: AllowListType = "smtp"


class AllowListRemoveRequest(Struct):
    ip_address: str
    type: AllowListType = "smtp"
