"""Canonical forms of addresses and ranges, and membership across IPv4 and IPv6."""

from __future__ import annotations

import random
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest

from postroom.features.ip_access.addresses import in_any, parse_ip, parse_network


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::FFFF:7F00:1", "127.0.0.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000::0001", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        (" 192.0.2.1\t", "192.0.2.1"),
        ("::1", "::1"),
    ],
)
def test_parse_ip(text: str, canonical: str) -> None:
    assert str(parse_ip(text)) == canonical


@pytest.mark.parametrize("text", ["", "1.2.3", "1.2.3.4.5", "01.2.3.4", "10.0.0.0/8", "::g", "localhost"])
def test_parse_ip_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ip(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("10.1.2.3", "10.1.2.3/32"),
        ("::ffff:10.1.2.3/104", "10.0.0.0/8"),
        ("::ffff:10.1.2.3", "10.1.2.3/32"),
        ("::ffff:0:0/95", "::fffe:0:0/95"),
        ("2001:DB8::1/32", "2001:db8::/32"),
        ("fe80::1%eth0/64", "fe80::/64"),
    ],
)
def test_parse_network(text: str, canonical: str) -> None:
    assert str(parse_network(text)) == canonical


@pytest.mark.parametrize("text", ["10.0.0.0/33", "10.0.0.0/-1", "2001:db8::/129", "10.0.0.0/8/8", "net"])
def test_parse_network_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_network(text)


def test_in_any_never_mixes_versions() -> None:
    networks = (ip_network("::/0"), ip_network("10.0.0.0/8"))
    assert in_any(ip_address("2001:db8::1"), networks)
    assert in_any(ip_address("10.9.9.9"), networks)
    assert not in_any(ip_address("192.0.2.1"), networks)
    assert not in_any(ip_address("192.0.2.1"), ())


def test_random_addresses_round_trip_through_their_canonical_text() -> None:
    rng = random.Random(7)
    addresses = [IPv4Address(rng.getrandbits(32)) for _ in range(500)]
    addresses += [IPv6Address(rng.getrandbits(128)) for _ in range(500)]
    addresses += [IPv6Address((0xFFFF << 32) | int(a)) for a in addresses[:100]]  # IPv4-mapped
    for address in addresses:
        canonical = parse_ip(str(address))
        assert parse_ip(str(canonical)) == canonical
        assert parse_network(str(address)).num_addresses == 1
        assert in_any(canonical, (parse_network(str(address)),))
