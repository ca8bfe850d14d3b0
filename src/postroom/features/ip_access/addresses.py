"""IP addresses and networks in one canonical form, so that equal addresses compare equal as text.

An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack socket reports for an IPv4
client) is the IPv4 address; a zone (`fe80::1%eth0`) names an interface, not an address, and is
dropped. IPv6 is written as `ipaddress` writes it: lower case, zeros compressed.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IpAddress = IPv4Address | IPv6Address
IpNetwork = IPv4Network | IPv6Network
_ZONE = re.compile(r"%[^/]*")
_MAPPED_PREFIX = 96  # ::ffff:0:0/96 holds the IPv4-mapped addresses (RFC 4291 §2.5.5.2)


def parse_ip(text: str) -> IpAddress:
    """One address in canonical form; raise ValueError when `text` is not one."""
    address = ip_address(_ZONE.sub("", text.strip()))
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_network(text: str) -> IpNetwork:
    """An address or CIDR range as a network, host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`, a
    bare address is a /32 or /128); raise ValueError when `text` is neither."""
    network = ip_network(_ZONE.sub("", text.strip()), strict=False)
    if isinstance(network, IPv6Network) and network.prefixlen >= _MAPPED_PREFIX:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return IPv4Network((mapped, network.prefixlen - _MAPPED_PREFIX))
    return network


def shown(network: str) -> str:
    """How an entry's stored CIDR range is answered: a single address (a /32 or /128) without a prefix
    length, as a client added it (`198.51.100.7`), a wider range as CIDR (`10.0.0.0/8`)."""
    parsed = ip_network(network, strict=False)
    if parsed.prefixlen == parsed.max_prefixlen:
        return str(parsed.network_address)
    return str(parsed)


def in_any(address: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    """Whether the address lies in one of the networks (an IPv4 address is in no IPv6 network)."""
    return any(address.version == n.version and address in n for n in networks)
