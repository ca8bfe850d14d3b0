"""Permission matching: a key's `endpoints` are canonical paths with `*` wildcards."""

from __future__ import annotations

import re
from functools import lru_cache

ALL = "*"


@lru_cache(maxsize=4096)
def _pattern(grant: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in grant.split("*")) + "$")


def allows(grants: tuple[str, ...], path: str) -> bool:
    """True when one of the grants matches the canonical path (e.g. `/email/*` matches `/email/send`)."""
    return any(grant == ALL or _pattern(grant).match(path) for grant in grants)


def normalize_grant(grant: str) -> str:
    """Grants are stored with a leading slash (`email/send` → `/email/send`), `*` alone stays."""
    grant = grant.strip()
    if grant == ALL or grant.startswith("/"):
        return grant
    return "/" + grant
