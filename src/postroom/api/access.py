"""The one place a caller's access is decided, for every HTTP door: who the key is, permission, the IP
allow list, then the request and sending limits (decisions.md; reference §2.6).

`admit` is the guard of the key-authenticated doors (/v3 and the capture API under /api/v1);
`permit` is its permission step, which the dashboard applies to a signed-in session's key.

Limits are counted in this process, or in Redis for all processes (features.api_keys.limits), and
answer 429 REQ_LIMIT_EXCEEDED with `X-RateLimit-*` and `Retry-After`:
- failed key checks per client IP: after AUTH_FAILURES in AUTH_WINDOW seconds a further failure is a
  429 instead of a 401, while a good key from the same IP keeps working (it is always checked);
- per-endpoint request limits per key (ENDPOINT_LIMITS), unless settings turn them off;
- a key's custom sending limit, counted in messages on SENT_PATHS (a batch counts its items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers

from postroom.api.auth import key_from
from postroom.errors import AuthError, Forbidden, InvalidInput
from postroom.features.api_keys.admin import PERMISSIONS_PATH
from postroom.features.api_keys.limits import LimitExceeded, Quota, per
from postroom.features.api_keys.service import Principal

if TYPE_CHECKING:
    from postroom.services import Services

# canonical path → (requests, per seconds), per API key (reference §2.6, decisions.md)
ENDPOINT_LIMITS: dict[str, tuple[int, float]] = {
    "/activity/search": (60, 60.0),
    "/api_keys/add": (5, 60.0),
    "/email/search": (20, 60.0),
    "/single_sender_emails/add": (20, 3600.0),  # each call mails a stranger: per key, 20 an hour
    "/subaccount/add": (50, 3600.0),
}
SENT_PATHS = {"/email/send", "/email/mime", "/email/batch"}
ALWAYS_ALLOWED = {PERMISSIONS_PATH}  # any valid key may ask what it may call
DENIED = "You do not have permission to access this API endpoint"
AUTH_FAILURES = 50
AUTH_WINDOW = 60.0


async def authenticate(services: Services, headers: Headers, body: dict[str, Any], ip: str) -> Principal:
    """The request's key as a principal; AuthError (401), or LimitExceeded once `ip` failed too often."""
    try:
        return await services.keys.authenticate(key_from(headers, body))
    except AuthError as exc:
        quota = await services.keys.limits.record(f"auth-failures:{ip}", AUTH_FAILURES, AUTH_WINDOW)
        if quota is not None:
            raise LimitExceeded(
                f"Too many requests with a missing or invalid API key from {ip}", quota
            ) from exc
        raise


async def admit(
    services: Services, headers: Headers, body: dict[str, Any], path: str, ip: str
) -> tuple[Principal, dict[str, str]]:
    """Authenticate the request's key and authorize it for `path`: the principal and the
    `X-RateLimit-*` headers of a limited call. Raises AuthError, Forbidden or LimitExceeded."""
    principal = await authenticate(services, headers, body, ip)
    return principal, await authorize(services, principal, path, ip, body)


def permit(principal: Principal, path: str, refusal: str = DENIED) -> None:
    """Raise Forbidden (with `refusal`) unless the key may call `path` (canonical)."""
    if path not in ALWAYS_ALLOWED and not principal.may_call(path):
        raise Forbidden(refusal)


async def authorize(
    services: Services, principal: Principal, path: str, ip: str, body: dict[str, Any] | None = None
) -> dict[str, str]:
    """Raise Forbidden unless the key may call `path` (canonical) and `ip` passes the API allow list,
    LimitExceeded when a limit is reached; returns the `X-RateLimit-*` headers of a limited call."""
    permit(principal, path)
    if not await services.ip_access.api_allowed(principal.account_id, ip):
        raise Forbidden(f"The IP address {ip} is not on this account's API allow list")
    quota = await _take(services, principal, path, body or {})
    return quota.headers() if quota else {}


async def act(services: Services, principal: Principal, body: dict[str, Any]) -> Principal:
    """The principal the request runs as: a master key naming `subaccount_id` acts for that subaccount
    (its account, the key's own permissions). Forbidden for a subaccount's key or an account that is
    not the caller's subaccount, Conflict (402) for a closed one. Asked after authorize, so the key's
    own account's IP allow list and limits apply."""
    subaccount_id = body.get("subaccount_id")
    if subaccount_id is None or subaccount_id == "":
        return principal
    if not isinstance(subaccount_id, str):
        raise InvalidInput("subaccount_id", "The field 'subaccount_id' must be a string")
    if "\x00" in subaccount_id:  # as postroom/bodies.py refuses in every field (PostgreSQL text has no NUL)
        raise InvalidInput("subaccount_id", "The field 'subaccount_id' must not contain NUL characters")
    return await services.subaccounts.act_for(principal, subaccount_id)


async def check_quota(services: Services, principal: Principal, path: str, body: dict[str, Any]) -> None:
    """Conflict (402) when a send cannot fit a subaccount's monthly plan (`limit`): the early check;
    the binding one runs where the messages are stored (features.subaccounts.quota)."""
    if path in SENT_PATHS:
        await services.subaccounts.check_quota(principal, _messages(path, body))


async def _take(services: Services, principal: Principal, path: str, body: dict[str, Any]) -> Quota | None:
    limits = services.keys.limits
    if path in ENDPOINT_LIMITS and services.settings.endpoint_rate_limits:
        n, seconds = ENDPOINT_LIMITS[path]
        refusal = f"This endpoint is rate limited to {n} requests every {per(seconds)}"
        return await limits.take(f"{path}:{principal.key_id}", 1, n, seconds, refusal)
    if path in SENT_PATHS and principal.ratelimit:
        n, seconds = principal.ratelimit
        refusal = f"This API key's sending limit of {n} emails every {per(seconds)} is reached"
        return await limits.take(f"sent:{principal.key_id}", _messages(path, body), n, seconds, refusal)
    return None


def _messages(path: str, body: dict[str, Any]) -> int:
    """How many messages a send request asks for: one, or a batch's items."""
    emails = body.get("emails") if path == "/email/batch" else None
    return max(1, len(emails)) if isinstance(emails, list) else 1
