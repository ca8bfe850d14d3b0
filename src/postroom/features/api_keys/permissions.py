"""Permission matching: a key's `endpoints` are canonical paths with `*` wildcards.

The subset rule for granting (a key may only grant what it holds): a grant is covered by a key's
grants when
  1. every known canonical path the grant matches is one the key may call, and
  2. a wildcard grant is also matched by one of the key's own patterns as a pattern (`*` covers
     everything; `/email/*` covers `/email/*`, `/email/scheduled/*`; a list of every `/email/…`
     path does not cover `/email/*`, whose reach grows with every new `/email/` endpoint).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

ALL = "*"
_GRANT = re.compile(r"^(\*|/[a-z0-9_*/-]*)$")


@dataclass(frozen=True)
class Catalog:
    """The canonical paths a grant may name, the served ones, and aliases (which are not permissions)."""

    paths: frozenset[str]
    served: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)


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


def _subsumes(held: str, grant: str) -> bool:
    """True when every path the pattern `grant` can ever match is matched by `held` (conservative)."""
    if held in (ALL, grant):
        return True
    prefix = held[:-1]
    return held.endswith("*") and "*" not in prefix and grant.startswith(prefix)


def covers(held: tuple[str, ...], grant: str, known: Iterable[str]) -> bool:
    """The subset rule (module docstring): may a key holding `held` grant `grant`?"""
    if "*" in grant and not any(_subsumes(h, grant) for h in held):
        return False
    return all(allows(held, path) for path in known if allows((grant,), path))


def grant_problem(grant: str, catalog: Catalog) -> str | None:
    """Why `grant` is not a permission name, or None when it is one."""
    if grant in catalog.aliases:
        return f"'{grant}' is an alias; grant its canonical path '{catalog.aliases[grant]}'"
    if not _GRANT.match(grant):
        return f"'{grant}' is not an endpoint path such as '/email/send', '/email/*' or '*'"
    if not any(allows((grant,), path) for path in catalog.paths):
        return f"'{grant}' names no endpoint of the API"
    return None


def expand(grants: tuple[str, ...], paths: Iterable[str]) -> list[str]:
    """The paths (sorted) that the grants allow."""
    return sorted(path for path in paths if allows(grants, path))
