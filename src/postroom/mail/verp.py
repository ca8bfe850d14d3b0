"""VERP return paths: `bounces+<delivery id>-<signature>@<return-path domain>`.

Each outgoing transaction carries the delivery it belongs to in its envelope sender, so an
asynchronous bounce (RFC 3464 DSN) or complaint sent to that address names its delivery even when the
report itself is unreadable. The HMAC signature stops anyone from forging bounces for deliveries they
never received.
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "bounces"
SIGNATURE_CHARS = 10
_LOCAL = re.compile(rf"^{PREFIX}\+(\d+)-([0-9a-f]{{{SIGNATURE_CHARS}}})$", re.IGNORECASE)


def _signature(secret: bytes, delivery_id: int) -> str:
    return hmac.new(secret, str(delivery_id).encode(), hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]


def return_path(delivery_id: int, domain: str, secret: bytes) -> str:
    return f"{PREFIX}+{delivery_id}-{_signature(secret, delivery_id)}@{domain}"


def is_return_path(address: str, domain: str) -> bool:
    """Whether this address is on the return-path domain with the bounce prefix (signed or not)."""
    local, _, at = address.rpartition("@")
    return at.lower() == domain.lower() and local.lower().split("+", 1)[0] == PREFIX


def delivery_of(address: str, secret: bytes) -> int | None:
    """The delivery id a return path names, or None if it names none or its signature is wrong."""
    match = _LOCAL.match(address.rpartition("@")[0])
    if not match:
        return None
    delivery_id = int(match.group(1))
    if not hmac.compare_digest(_signature(secret, delivery_id), match.group(2).lower()):
        return None
    return delivery_id
