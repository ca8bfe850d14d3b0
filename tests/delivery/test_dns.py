"""MX and address lookups: the ordering rules, the fake, and dnspython against a real dnsmasq."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator

import pytest
from peers import dnsmasq

from postroom.delivery.dns import DnsError, DnsResolver, NoSuchName, order_exchanges
from postroom.testing import FakeResolver

RECORDS = [
    "--mx-host=example.test,mx-b.example.test,20",
    "--mx-host=example.test,mx-a.example.test,10",
    "--mx-host=twin.test,one.twin.test,10",
    "--mx-host=twin.test,two.twin.test,10",
    "--mx-host=twin.test,backup.twin.test,50",
    "--host-record=mx-a.example.test,127.0.0.2",
    "--host-record=dual.test,127.0.0.3,::1",
    "--host-record=implicit.test,127.0.0.4",
    "--dns-rr=nullmx.test,15,000000",  # MX 0 "." (RFC 7505)
    "--mx-host=noaddr.test,mx.noaddr.test,10",
    "--txt-record=mx.noaddr.test,exists but has no address",
]


@pytest.fixture(scope="module")
def nameserver() -> Iterator[tuple[str, int]]:
    with dnsmasq(RECORDS) as address:
        yield address


def test_order_exchanges_sorts_by_preference_and_shuffles_ties() -> None:
    records = [(20, "c.test."), (10, "a.test."), (10, "B.test."), (30, "a.test.")]
    orders = {tuple(order_exchanges("x.test", records, random.Random(seed))) for seed in range(20)}
    assert orders == {("a.test", "b.test", "c.test"), ("b.test", "a.test", "c.test")}


def test_a_null_mx_alone_is_permanent_and_mixed_with_others_is_ignored() -> None:
    with pytest.raises(DnsError) as raised:
        order_exchanges("x.test", [(0, ".")], random.Random(1))
    assert raised.value.permanent and raised.value.message.startswith("556 5.1.10 ")
    assert order_exchanges("x.test", [(0, "."), (10, "mx.x.test.")], random.Random(1)) == ["mx.x.test"]


async def test_the_fake_resolver_follows_the_same_rules() -> None:
    fake = FakeResolver(
        mx={"a.test": [(10, "mx1.a.test"), (10, "mx2.a.test")], "null.test": [(0, ".")]},
        addresses={"mx1.a.test": ["127.0.0.2"], "b.test": ["127.0.0.3"], "mx2.a.test": []},
        failures={"slow.test": "timeout"},
    )
    orders = {tuple(await fake.resolve_mx("a.test")) for _ in range(20)}
    assert orders == {("mx1.a.test", "mx2.a.test"), ("mx2.a.test", "mx1.a.test")}
    assert await fake.resolve_mx("b.test") == ["b.test"]  # implicit MX
    assert await fake.resolve_addresses("mx1.a.test") == ["127.0.0.2"]
    for name, permanent in [("null.test", True), ("none.test", True), ("slow.test", False)]:
        with pytest.raises(DnsError) as raised:
            await fake.resolve_mx(name)
        assert raised.value.permanent is permanent
    with pytest.raises(DnsError, match="has no A or AAAA record"):
        await fake.resolve_addresses("mx2.a.test")
    assert fake.lookups[-1] == ("A/AAAA", "mx2.a.test")


async def test_mx_records_in_preference_order(nameserver: tuple[str, int]) -> None:
    resolver = DnsResolver([nameserver], timeout=2)
    assert await resolver.resolve_mx("example.test") == ["mx-a.example.test", "mx-b.example.test"]
    assert await resolver.resolve_mx("EXAMPLE.test.") == ["mx-a.example.test", "mx-b.example.test"]


async def test_equal_preferences_come_in_both_orders(nameserver: tuple[str, int]) -> None:
    resolver = DnsResolver([nameserver], timeout=2, rng=random.Random(7))
    orders = {tuple(await resolver.resolve_mx("twin.test")) for _ in range(30)}
    assert orders == {
        ("one.twin.test", "two.twin.test", "backup.twin.test"),
        ("two.twin.test", "one.twin.test", "backup.twin.test"),
    }


async def test_no_mx_means_the_domain_itself(nameserver: tuple[str, int]) -> None:
    resolver = DnsResolver([nameserver], timeout=2)
    assert await resolver.resolve_mx("implicit.test") == ["implicit.test"]
    assert await resolver.resolve_addresses("implicit.test") == ["127.0.0.4"]
    assert await resolver.resolve_addresses("dual.test") == ["127.0.0.3", "::1"]  # IPv4 first


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nullmx.test", "556 5.1.10 Recipient address has null MX: nullmx.test accepts no mail (RFC 7505)"),
        ("nothing.test", "nothing.test does not exist (NXDOMAIN)"),
    ],
)
async def test_permanent_mx_failures(nameserver: tuple[str, int], name: str, message: str) -> None:
    with pytest.raises(DnsError) as raised:
        await DnsResolver([nameserver], timeout=2).resolve_mx(name)
    assert (raised.value.message, raised.value.permanent) == (message, True)


async def test_a_host_without_addresses_is_permanent(nameserver: tuple[str, int]) -> None:
    resolver = DnsResolver([nameserver], timeout=2)
    with pytest.raises(DnsError) as raised:
        await resolver.resolve_addresses("mx.noaddr.test")
    assert (raised.value.message, raised.value.permanent) == ("mx.noaddr.test has no A or AAAA record", True)


async def test_a_refusing_server_is_temporary(nameserver: tuple[str, int]) -> None:
    with pytest.raises(DnsError) as raised:  # dnsmasq refuses names outside .test: no upstream server
        await DnsResolver([nameserver], timeout=2).resolve_mx("example.org")
    assert not raised.value.permanent and "SERVFAIL" in raised.value.message


async def test_a_silent_server_times_out_as_temporary() -> None:
    with socket.socket(type=socket.SOCK_DGRAM) as silent:  # bound, never read: queries vanish
        silent.bind(("127.0.0.1", 0))
        resolver = DnsResolver([("127.0.0.1", silent.getsockname()[1])], timeout=0.3)
        started = asyncio.get_running_loop().time()
        with pytest.raises(DnsError) as raised:
            await resolver.resolve_mx("example.test")
    assert not raised.value.permanent
    assert raised.value.message == "DNS lookup of MX for example.test timed out"
    assert asyncio.get_running_loop().time() - started < 2


# --- TXT and CNAME lookups (RecordResolver), as sender-domain verification uses them ---------------

RECORD_RECORDS = [
    "--txt-record=key.records.test,v=DKIM1; k=rsa; p=" + "A" * 400,  # over 255: sent as several strings
    "--txt-record=split.records.test,first,second",  # one record of two strings
    "--txt-record=twice.records.test,one",
    "--txt-record=twice.records.test,two",
    "--cname=alias.records.test,Target.Elsewhere.test",
    "--host-record=plain.records.test,127.0.0.5",
]


@pytest.fixture(scope="module")
def record_server() -> Iterator[tuple[str, int]]:
    with dnsmasq(RECORD_RECORDS) as address:
        yield address


async def test_txt_records_come_whole_one_string_per_record(record_server: tuple[str, int]) -> None:
    resolver = DnsResolver([record_server], timeout=2, cache=False)
    assert await resolver.resolve_txt("key.records.test") == ["v=DKIM1; k=rsa; p=" + "A" * 400]
    assert await resolver.resolve_txt("split.records.test") == ["firstsecond"]
    assert sorted(await resolver.resolve_txt("twice.records.test")) == ["one", "two"]


async def test_a_cname_target_is_lower_case_without_the_final_dot(record_server: tuple[str, int]) -> None:
    resolver = DnsResolver([record_server], timeout=2, cache=False)
    assert await resolver.resolve_cname("alias.records.test") == "target.elsewhere.test"
    assert await resolver.resolve_cname("ALIAS.records.test.") == "target.elsewhere.test"


async def test_no_record_and_no_name_are_empty_answers(record_server: tuple[str, int]) -> None:
    resolver = DnsResolver([record_server], timeout=2, cache=False)
    assert await resolver.resolve_txt("plain.records.test") == []  # the name exists, no TXT (NoAnswer)
    assert await resolver.resolve_txt("missing.records.test") == []  # NXDOMAIN
    assert await resolver.resolve_cname("plain.records.test") == ""
    assert await resolver.resolve_cname("missing.records.test") == ""


async def test_a_refused_txt_or_cname_lookup_is_an_error(record_server: tuple[str, int]) -> None:
    resolver = DnsResolver([record_server], timeout=2, cache=False)
    for lookup in (resolver.resolve_txt, resolver.resolve_cname):
        with pytest.raises(DnsError) as raised:
            await lookup("example.org")
        assert not raised.value.permanent and "REFUSED" in raised.value.message


async def test_nxdomain_is_still_a_permanent_dns_error_for_mx(record_server: tuple[str, int]) -> None:
    with pytest.raises(NoSuchName) as raised:
        await DnsResolver([record_server], timeout=2).resolve_mx("missing.records.test")
    assert isinstance(raised.value, DnsError) and raised.value.permanent
