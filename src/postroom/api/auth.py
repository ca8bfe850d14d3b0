"""Where a request's API key comes from: body `api_key`, `X-Smtp2go-Api-Key`, or `Authorization: Bearer`.

When more than one is given they must agree (decisions.md); otherwise the key is refused.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers

from postroom.errors import InvalidKey


def key_from(headers: Headers, body: dict[str, Any] | None = None) -> str | None:
    """The single API key the request carries, None when there is none; InvalidKey if they disagree."""
    candidates = []
    if body is not None and body.get("api_key") not in (None, ""):
        candidates.append(str(body["api_key"]))
    header = headers.get("x-smtp2go-api-key")
    if header:
        candidates.append(header.strip())
    authorization = headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        candidates.append(authorization[7:].strip())
    if not candidates:
        return None
    # Keys are hex, so letter case is not part of them (the stored hash is of the upper-cased key).
    if any(c.upper() != candidates[0].upper() for c in candidates[1:]):
        raise InvalidKey("The API keys given in the body and headers do not agree")
    return candidates[0]
