"""Dedicated IP pools in delivery: which source address a job gets, and the transports binding to it.

The peers listen on 127.0.0.1; the sources are other loopback addresses (all of 127.0.0.0/8 is local
on Linux), so the peer sees exactly which address a session came from.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from peers import ScriptedPeer, job

from postroom.delivery.relay_url import parse_relay_url
from postroom.delivery.sources import SourceAddresses
from postroom.delivery.transports.base import Job
from postroom.delivery.transports.mx import MxTransport, reachable
from postroom.delivery.transports.relay import RelayTransport
from postroom.settings import IpPool
from postroom.testing import FakeResolver

POOLS = [IpPool(1, "main", ("127.0.0.2", "127.0.0.3")), IpPool(2, "bulk", ("127.0.0.4",))]


def sourced(recipient: str, source: str, n: int) -> Job:
    return replace(job(recipient, n=n), source_address=source)


def test_a_pool_address_is_chosen_by_the_recipient_domain() -> None:
    sources = SourceAddresses(POOLS)
    assert sources.address(None, "example.test") == ""
    assert sources.address(2, "example.test") == "127.0.0.4"
    chosen = {sources.address(1, f"d{i}.test") for i in range(40)}
    assert chosen == {"127.0.0.2", "127.0.0.3"}  # a pool's domains spread over its addresses
    assert all(sources.address(1, f"d{i}.test") == sources.address(1, f"d{i}.test") for i in range(40))


def test_jobs_get_their_pools_address_and_jobs_without_a_pool_are_unchanged() -> None:
    plain, pooled = job("a@example.test", n=1), replace(job("b@example.test", n=2), ip_pool=2)
    assert SourceAddresses(POOLS).for_jobs([plain, pooled]) == [
        plain,
        replace(pooled, source_address="127.0.0.4"),
    ]


def test_a_pool_that_is_no_longer_configured_falls_back_to_the_default_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sources = SourceAddresses(POOLS)
    with caplog.at_level(logging.WARNING, logger="postroom.delivery.sources"):
        assert sources.address(7, "example.test") == ""
        assert sources.address(7, "other.test") == ""
    [record] = caplog.records
    assert "IP pool 7 is not configured" in record.getMessage()
    assert SourceAddresses().address(1, "example.test") == ""  # no pools at all


def test_only_addresses_of_the_source_family_are_reachable() -> None:
    addresses = ["::1", "127.0.0.1", "2001:db8::1", "192.0.2.1"]
    assert reachable(addresses, "") == addresses
    assert reachable(addresses, "127.0.0.2") == ["127.0.0.1", "192.0.2.1"]
    assert reachable(addresses, "::1") == ["::1", "2001:db8::1"]


async def test_relay_binds_each_job_to_its_source_and_pools_sessions_per_source() -> None:
    async with ScriptedPeer() as peer:
        transport = RelayTransport(parse_relay_url(f"smtp://127.0.0.1:{peer.port}?tls=none"), timeout=5)
        first = await transport.deliver(
            [sourced("a@example.test", "127.0.0.2", 1), job("b@example.test", n=2)]
        )
        assert [o.kind for o in first] == ["delivered", "delivered"]
        assert sorted(peer.remote_addresses) == ["127.0.0.1", "127.0.0.2"]
        again = await transport.deliver(
            [job("c@example.test", n=3), sourced("d@example.test", "127.0.0.2", 4)]
        )
        assert [o.kind for o in again] == ["delivered", "delivered"]
        await transport.close()
    assert peer.connections == 2  # each pooled session was reused, for its own source only
    remote = {m.rcpt_tos[0]: m.remote for m in peer.messages}
    assert remote == {
        "a@example.test": "127.0.0.2",
        "b@example.test": "127.0.0.1",
        "c@example.test": "127.0.0.1",
        "d@example.test": "127.0.0.2",
    }


async def test_a_source_address_that_cannot_be_bound_defers_only_its_own_jobs() -> None:
    async with ScriptedPeer() as peer:
        transport = RelayTransport(parse_relay_url(f"smtp://127.0.0.1:{peer.port}?tls=none"), timeout=5)
        outcomes = await transport.deliver(
            [sourced("a@example.test", "192.0.2.1", 1), job("b@example.test", n=2)]  # TEST-NET: not ours
        )
        await transport.close()
    assert outcomes[0].kind == "deferred"
    assert outcomes[0].response.startswith(f"cannot connect to 127.0.0.1:{peer.port} from 192.0.2.1: ")
    assert outcomes[1].kind == "delivered"
    assert [m.remote for m in peer.messages] == ["127.0.0.1"]


async def test_mx_binds_to_the_source_and_keeps_a_destination_per_source() -> None:
    async with ScriptedPeer() as peer:
        resolver = FakeResolver(
            mx={"example.test": [(10, "mx.example.test")], "six.test": [(10, "mx.six.test")]},
            addresses={"mx.example.test": ["::1", "127.0.0.1"], "mx.six.test": ["::1"]},
        )
        transport = MxTransport(resolver, port=peer.port, tls_policy=lambda domain: "none", timeout=5)
        outcomes = await transport.deliver(
            [
                sourced("a@example.test", "127.0.0.3", 1),
                job("b@example.test", n=2),
                sourced("c@six.test", "127.0.0.3", 3),
            ]
        )
        again = await transport.deliver([sourced("d@example.test", "127.0.0.3", 4)])
        await transport.close()
    assert [o.kind for o in outcomes[:2] + again] == ["delivered"] * 3
    assert outcomes[2].kind == "deferred"
    assert (
        outcomes[2].response == "no address of mx.six.test is of the family of the source address 127.0.0.3"
    )
    remote = {m.rcpt_tos[0]: m.remote for m in peer.messages}
    assert remote["a@example.test"] == remote["d@example.test"] == "127.0.0.3"
    assert remote["b@example.test"] == "127.0.0.1"  # after ::1, where nothing listens
    assert peer.connections == 2  # the session from 127.0.0.3 was reused for d
