"""Direct-to-MX delivery: real DNS (dnsmasq on a loopback port) and scripted SMTP peers on 127.0.0.x."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import (
    Certificates,
    Gauge,
    Script,
    ScriptedPeer,
    dnsmasq,
    free_port,
    job,
    make_certificates,
    message,
)

from postroom.delivery.dns import DnsResolver
from postroom.delivery.transports.factory import build_transport
from postroom.delivery.transports.mx import MxTransport
from postroom.settings import load_settings
from postroom.testing import FakeResolver

RECORDS = [
    "--mx-host=example.test,mx1.example.test,10",
    "--mx-host=example.test,mx2.example.test,20",
    "--host-record=mx1.example.test,127.0.0.2",
    "--host-record=mx2.example.test,127.0.0.3",
    "--host-record=implicit.test,127.0.0.4",
    "--mx-host=tls.test,mx.tls.test,10",
    "--host-record=mx.tls.test,127.0.0.5",
    "--mx-host=twin.test,a.twin.test,10",
    "--mx-host=twin.test,b.twin.test,10",
    "--host-record=a.twin.test,127.0.0.6",
    "--host-record=b.twin.test,127.0.0.7",
    "--mx-host=ghost.test,nowhere.ghost.test,10",
    "--dns-rr=nullmx.test,15,000000",  # MX 0 "." (RFC 7505): preference 0, the root name
]


@pytest.fixture(scope="module")
def nameserver() -> Iterator[tuple[str, int]]:
    with dnsmasq(RECORDS) as address:
        yield address


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"), ["mx.tls.test"])


@pytest.fixture
def port() -> int:
    """The port every MX host listens on in one test (settings.mx_port)."""
    return free_port()


def mx(
    nameserver: tuple[str, int],
    port: int,
    policy: str = "may",
    *,
    ca_file: str = "",
    concurrency: int = 10,
    rate: int = 0,
    max_recipients: int = 50,
) -> MxTransport:
    return MxTransport(
        DnsResolver([nameserver], timeout=2),
        helo_name="postroom.test",
        port=port,
        tls_policy=lambda domain: policy,
        ca_file=ca_file,
        timeout=2.0,
        concurrency=concurrency,
        rate=rate,
        max_recipients=max_recipients,
    )


async def test_the_first_mx_is_down_so_the_second_takes_the_mail(
    nameserver: tuple[str, int], port: int
) -> None:
    async with ScriptedPeer("127.0.0.3", port) as peer:  # mx1 (127.0.0.2) has no listener: refused
        transport = mx(nameserver, port)
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert (outcome.kind, outcome.host) == ("delivered", "mx2.example.test")
    assert peer.messages[0].rcpt_tos == ["ann@example.test"]


async def test_a_4xx_greeting_moves_on_to_the_next_host(nameserver: tuple[str, int], port: int) -> None:
    async with (
        ScriptedPeer("127.0.0.2", port, script=Script(greeting="421 4.7.0 try again later")) as first,
        ScriptedPeer("127.0.0.3", port) as second,
    ):
        transport = mx(nameserver, port)
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert (outcome.kind, outcome.host) == ("delivered", "mx2.example.test")
    assert first.connections == 1 and first.messages == [] and len(second.messages) == 1


async def test_every_host_refusing_with_5xx_bounces(nameserver: tuple[str, int], port: int) -> None:
    no = Script(greeting="554 5.7.1 no service")
    async with (
        ScriptedPeer("127.0.0.6", port, script=no) as a,
        ScriptedPeer("127.0.0.7", port, script=no) as b,
    ):
        transport = mx(nameserver, port)
        [outcome] = await transport.deliver([job("ann@twin.test")])
        await transport.close()
    assert (outcome.kind, outcome.response) == ("bounced", "554 5.7.1 no service")
    assert a.connections == b.connections == 1


async def test_all_hosts_failing_with_one_temporary_error_defers(
    nameserver: tuple[str, int], port: int
) -> None:
    async with ScriptedPeer("127.0.0.2", port, script=Script(greeting="554 5.7.1 no service")):
        transport = mx(nameserver, port)  # mx2 (127.0.0.3) refuses the connection: a temporary failure
        [outcome] = await transport.deliver([job("ann@example.test")])
        await transport.close()
    assert outcome.kind == "deferred"
    assert (outcome.response, outcome.host) == (
        f"connection refused by mx2.example.test[127.0.0.3]:{port}",
        "mx2.example.test",
    )


async def test_no_mx_record_means_the_domain_itself(nameserver: tuple[str, int], port: int) -> None:
    async with ScriptedPeer("127.0.0.4", port) as peer:
        transport = mx(nameserver, port)
        [outcome] = await transport.deliver([job("ann@implicit.test")])
        await transport.close()
    assert (outcome.kind, outcome.host) == ("delivered", "implicit.test") and len(peer.messages) == 1


@pytest.mark.parametrize(
    ("recipient", "response"),
    [
        (
            "ann@nullmx.test",
            "556 5.1.10 Recipient address has null MX: nullmx.test accepts no mail (RFC 7505)",
        ),
        ("ann@nothing.test", "nothing.test does not exist (NXDOMAIN)"),
        ("ann@ghost.test", "nowhere.ghost.test does not exist (NXDOMAIN)"),
    ],
)
async def test_domains_that_take_no_mail_bounce(
    nameserver: tuple[str, int], port: int, recipient: str, response: str
) -> None:
    transport = mx(nameserver, port)
    [outcome] = await transport.deliver([job(recipient)])
    await transport.close()
    assert (outcome.kind, outcome.response) == ("bounced", response)


async def test_a_dns_failure_defers() -> None:
    transport = MxTransport(FakeResolver(failures={"flaky.test": "servfail"}), port=free_port())
    [outcome] = await transport.deliver([job("ann@flaky.test")])
    assert (outcome.kind, outcome.response, outcome.host) == (
        "deferred",
        "simulated servfail for flaky.test",
        "flaky.test",
    )


# --- TLS policies ------------------------------------------------------------------------------


def broken_tls(certs: Certificates) -> ssl.SSLContext:
    """A server context whose only cipher needs a pre-shared key it does not have: every handshake fails."""
    context = certs.server_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("PSK-AES128-CBC-SHA")
    return context


@pytest.mark.parametrize(
    ("policy", "offer", "ca", "kind", "tls"),
    [
        ("may", "good", False, "delivered", True),  # opportunistic: any certificate will do
        ("may", "none", False, "delivered", False),
        ("may", "broken", False, "delivered", False),  # the handshake failed: plain text again
        ("encrypt", "good", False, "delivered", True),
        ("encrypt", "none", False, "deferred", False),
        ("verify", "good", True, "delivered", True),
        ("verify", "good", False, "deferred", False),  # our test CA is not a system CA
        ("verify", "none", True, "deferred", False),
        ("none", "good", False, "delivered", False),
    ],
)
async def test_tls_policies(
    nameserver: tuple[str, int],
    port: int,
    certs: Certificates,
    policy: str,
    offer: str,
    ca: bool,
    kind: str,
    tls: bool,
) -> None:
    context = {"good": certs.server_context, "broken": lambda: broken_tls(certs), "none": lambda: None}[
        offer
    ]()
    async with ScriptedPeer("127.0.0.5", port, starttls=context) as peer:
        transport = mx(nameserver, port, policy, ca_file=str(certs.ca) if ca else "")
        [outcome] = await transport.deliver([job("ann@tls.test")])
        await transport.close()
    assert outcome.kind == kind, outcome.response
    assert [m.tls for m in peer.messages] == ([tls] if kind == "delivered" else [])


async def test_verify_checks_the_certificate_names_the_mx_host(
    nameserver: tuple[str, int], port: int, tmp_path: Path
) -> None:
    other = make_certificates(tmp_path, ["other.test"])
    async with ScriptedPeer("127.0.0.5", port, starttls=other.server_context()) as peer:
        transport = mx(nameserver, port, "verify", ca_file=str(other.ca))
        [outcome] = await transport.deliver([job("ann@tls.test")])
        await transport.close()
    assert outcome.kind == "deferred" and peer.messages == []
    assert "Hostname mismatch" in outcome.response or "hostname" in outcome.response.lower()


# --- sessions, transactions, limits ------------------------------------------------------------------


async def test_recipients_of_one_message_share_a_transaction(nameserver: tuple[str, int], port: int) -> None:
    async with ScriptedPeer("127.0.0.4", port) as peer:
        transport = mx(nameserver, port, max_recipients=2)
        data = message("shared")
        jobs = [job(f"r{i}@implicit.test", data, mail_from="bounces@pr.test", n=i) for i in range(3)]
        jobs.append(job("other@implicit.test", data, mail_from="bounces+other@pr.test", n=9))
        outcomes = await transport.deliver(jobs)
        await transport.close()
    assert [o.kind for o in outcomes] == ["delivered"] * 4
    assert sorted(m.rcpt_tos for m in peer.messages) == [
        ["other@implicit.test"],
        ["r0@implicit.test", "r1@implicit.test"],
        ["r2@implicit.test"],
    ]


async def test_concurrency_per_domain_is_limited(nameserver: tuple[str, int], port: int) -> None:
    async with ScriptedPeer("127.0.0.4", port, script=Script(delay=0.05)) as peer:
        transport = mx(nameserver, port, concurrency=2)
        outcomes = await transport.deliver([job(f"r{i}@implicit.test", n=i) for i in range(10)])
        assert [o.kind for o in outcomes] == ["delivered"] * 10
        assert peer.gauge.peak == 2 and peer.connections == 2
        await transport.deliver([job("again@implicit.test")])
        assert peer.connections == 2  # the next call reused a pooled session
        await transport.close()


async def test_different_domains_are_delivered_at_the_same_time(
    nameserver: tuple[str, int], port: int
) -> None:
    gauge = Gauge()
    slow = Script(delay=0.2)
    async with (
        ScriptedPeer("127.0.0.3", port, script=slow, gauge=gauge),
        ScriptedPeer("127.0.0.4", port, script=slow, gauge=gauge),
    ):
        transport = mx(nameserver, port, concurrency=1)
        outcomes = await transport.deliver([job("a@example.test"), job("b@implicit.test")])
        await transport.close()
    assert [o.kind for o in outcomes] == ["delivered", "delivered"]
    assert gauge.peak == 2


async def test_the_rate_per_domain_defers_what_exceeds_it(nameserver: tuple[str, int], port: int) -> None:
    async with ScriptedPeer("127.0.0.4", port) as peer:
        transport = mx(nameserver, port, rate=2, concurrency=1)
        outcomes = await transport.deliver([job(f"r{i}@implicit.test", n=i) for i in range(4)])
        await transport.close()
    assert [o.kind for o in outcomes] == ["delivered", "delivered", "deferred", "deferred"]
    assert outcomes[2].response == "rate limit of 2 messages a minute to implicit.test reached"
    assert len(peer.messages) == 2


def test_build_transport_uses_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        flags={
            "delivery_mode": "mx",
            "dns_nameservers": "127.0.0.1:5353",
            "mx_port": 2525,
            "tls_policy": "may,secure.test=verify",
        },
        env={},
        toml_path=tmp_path / "none.toml",
    )
    transport = build_transport(settings)
    assert isinstance(transport, MxTransport) and transport.name == "mx" and transport.needs_content
    assert isinstance(transport.resolver, DnsResolver)
    fake = FakeResolver()
    transport = build_transport(settings, fake)
    assert isinstance(transport, MxTransport) and transport.resolver is fake
