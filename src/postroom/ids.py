"""Identifiers: SMTP2GO-style email ids, request ids, API keys."""

from __future__ import annotations

import secrets
import time
import uuid

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(_B62[digit])
    return "".join(reversed(out))


def _random62(width: int) -> str:
    return _base62(secrets.randbelow(62**width), width)


def new_email_id() -> str:
    """`1u0SwL-B9zBpi9ffUq-JAB2`: base-62 seconds, then 16 random base-62 characters (95 bits).

    Unique across processes and hosts without coordination: a collision needs two ids in the same
    second with the same 95 random bits.
    """
    return f"{_base62(int(time.time()), 6)}-{_random62(12)}-{_random62(4)}"


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_api_key() -> str:
    """`api-` followed by 32 upper-case hex characters: 128 random bits."""
    return "api-" + secrets.token_hex(16).upper()


def new_account_id() -> str:
    return secrets.token_hex(8)
