"""The smarthost of relay mode, read from `smtp://user:pass@host:port?tls=starttls|implicit|none`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

RELAY_TLS_MODES = ("starttls", "implicit", "none")


@dataclass(frozen=True)
class RelayTarget:
    host: str
    port: int
    tls: str  # starttls, implicit or none
    username: str
    password: str


def parse_relay_url(url: str) -> RelayTarget:
    """Parse a relay URL; `smtps://` means implicit TLS. Raises ValueError with a readable reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("expected smtp://host:port or smtps://host:port")
    if not parts.hostname:
        raise ValueError("the URL names no host")
    query = parse_qs(parts.query)
    tls = query.get("tls", ["implicit" if parts.scheme == "smtps" else "starttls"])[-1].lower()
    if tls not in RELAY_TLS_MODES:
        raise ValueError(f"tls={tls!r} is not one of {', '.join(RELAY_TLS_MODES)}")
    try:
        port = parts.port or (465 if tls == "implicit" else 587)
    except ValueError:
        raise ValueError("the port is not a number between 1 and 65535") from None
    return RelayTarget(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )
