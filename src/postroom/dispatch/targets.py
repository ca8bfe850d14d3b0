"""Where webhooks may post: the SSRF policy, checked when a webhook is saved and again at connect.

A target whose host is, or resolves to, a loopback, private, link-local (which includes cloud
metadata addresses such as 169.254.169.254), multicast, reserved or unspecified address is refused
unless private targets are allowed (`POSTROOM_WEBHOOK_ALLOW_PRIVATE`; on by default in capture mode).
At connect time the addresses checked are the ones connected to, so DNS rebinding gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL is malformed, not http(s), or (by the policy) points at a private address."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (lower case, no brackets)
    port: int
    path: str  # with the query


def parse_target(url: str) -> Target:
    """The URL's parts; raises TargetRefused for anything but a well-formed http or https URL."""
    if len(url) > MAX_URL:
        raise TargetRefused(f"The URL is longer than {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("The URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"The URL is malformed ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise TargetRefused("The URL must start with http:// or https://")
    host = (parts.hostname or "").lower()
    if not host:
        raise TargetRefused("The URL has no host")
    default = 443 if parts.scheme.lower() == "https" else 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme.lower(), host, port or default, path)


def is_private(ip: IpAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def literal_ip(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address the host resolves to (the host itself when it is an address)."""
    literal = literal_ip(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def vetted(target: Target, allow_private: bool) -> list[IpAddress]:
    """The addresses to connect to; raises TargetRefused when the policy refuses any of them, and
    OSError when the host does not resolve."""
    addresses = await resolve(target.host, target.port)
    if not allow_private:
        refused = [str(ip) for ip in addresses if is_private(ip)]
        if refused:
            raise TargetRefused(
                f"The URL's host {target.host} is a private, loopback or link-local address ({refused[0]}); "
                "webhooks may not post there (POSTROOM_WEBHOOK_ALLOW_PRIVATE)"
            )
    return addresses
