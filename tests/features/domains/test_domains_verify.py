"""Verifying sender domains against a real DNS server (dnsmasq on loopback), through the API.

Each test makes the domain's key first (as /domain/add would), publishes its records in dnsmasq,
starts a server whose dns_nameservers is that dnsmasq, and stores the domain in the server's
database. dnsmasq answers for `.test` names and refuses every other name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conftest import RunningServer
from delivery.peers import dnsmasq
from envelope_checks import ok
from postroom.features.api_keys import repo as keys_repo
from postroom.features.domains.service import NewDomain, insert_domain, new_domain

HOST = "mail.postroom.test"
RETURN_PATH = "bounces.postroom.test"


def _published(
    new: NewDomain, dkim: bool = True, rpath: str = RETURN_PATH, tracking: str = HOST
) -> list[str]:
    """dnsmasq options publishing the domain's records (each left out when false or empty)."""
    records = []
    if dkim:
        value = f"v=DKIM1; k=rsa; p={new.key.public_b64}"
        records.append(f"--txt-record={new.selector}._domainkey.{new.domain},{value}")
    if rpath:
        records.append(f"--cname=em.{new.domain},{rpath}")
    if tracking:
        records.append(f"--cname=link.{new.domain},{tracking}")
    return records


@contextmanager
def _server_with_dns(make_server: Any, records: list[str]) -> Iterator[RunningServer]:
    with dnsmasq(records) as (host, port):
        yield make_server(dns_nameservers=f"{host}:{port}", hostname=HOST, return_path_domain=RETURN_PATH)


def _store(server: RunningServer, new: NewDomain) -> None:
    server.app.state.services.db.write_sync(
        lambda c: insert_domain(c, keys_repo.master_account_id(c) or "", new)
    )


def _verify(server: RunningServer, domain: str) -> dict[str, Any]:
    [entry] = ok(server.post("domain/verify", {"domain": domain}))["domains"]
    assert isinstance(entry, dict)
    return entry


def _checks(entry: dict[str, Any]) -> list[tuple[bool, str]]:
    """(verified, status) of DKIM, return path and tracking, as the domain object says."""
    info, [tracker] = entry["domain"], entry["trackers"]
    checks = [
        (info["dkim_verified"], info["dkim_status"]),
        (info["rpath_verified"], info["rpath_status"]),
        (tracker["cname_verified"], tracker["cname_status"]),
    ]
    assert checks == [(r["verified"], r["status"]) for r in entry["dns_records"]]
    return checks


def test_all_three_records_verified_when_published(make_server: Any) -> None:
    new = new_domain("example.test")
    with _server_with_dns(make_server, _published(new)) as server:
        _store(server, new)
        entry = _verify(server, "EXAMPLE.test")
        assert _checks(entry) == [(True, ""), (True, ""), (True, "")]
        assert entry["trackers"][0]["enabled"] is True
        [viewed] = ok(server.post("domain/view", {}))["domains"]
        assert _checks(viewed) == _checks(entry)


def test_missing_dkim_and_wrong_or_missing_cnames_have_readable_statuses(make_server: Any) -> None:
    new = new_domain("example.test")
    records = _published(new, dkim=False, rpath="wrong.postroom.test", tracking="")
    with _server_with_dns(make_server, records) as server:
        _store(server, new)
        assert _checks(_verify(server, "example.test")) == [
            (False, f"no TXT record found at {new.selector}._domainkey.example.test"),
            (False, f"CNAME points to wrong.postroom.test, expected {RETURN_PATH}"),
            (False, "no CNAME record found at link.example.test"),
        ]


def test_a_dkim_record_with_another_key_is_not_verified(make_server: Any) -> None:
    new, other = new_domain("example.test"), new_domain("example.test")
    name = f"{new.selector}._domainkey.example.test"
    records = [f"--txt-record={name},v=DKIM1; k=rsa; p={other.key.public_b64}"]
    with _server_with_dns(make_server, records + _published(new, dkim=False)) as server:
        _store(server, new)
        dkim, rpath, tracking = _checks(_verify(server, "example.test"))
    assert dkim == (False, f"the DKIM record at {name} holds another key than this domain's (p= differs)")
    assert rpath == tracking == (True, "")


def test_a_refusing_dns_server_gives_an_error_status_not_a_500(make_server: Any) -> None:
    new = new_domain("example.com")  # outside .test: dnsmasq answers REFUSED
    with _server_with_dns(make_server, []) as server:
        _store(server, new)
        checks = _checks(_verify(server, "example.com"))
    assert [verified for verified, _ in checks] == [False, False, False]
    dkim_name = f"{new.selector}._domainkey.example.com"
    assert checks[0][1] == f"no DNS server answered the TXT lookup for {dkim_name} (SERVFAIL or REFUSED)"
    assert (
        checks[2][1] == "no DNS server answered the CNAME lookup for link.example.com (SERVFAIL or REFUSED)"
    )


def test_add_verifies_at_once_unless_auto_verify_is_false(make_server: Any) -> None:
    records = [f"--cname=em.auto.test,{RETURN_PATH}", f"--cname=link.auto.test,{HOST}"]
    records += [f"--cname=em.manual.test,{RETURN_PATH}", f"--cname=link.manual.test,{HOST}"]
    with _server_with_dns(make_server, records) as server:
        [entry] = ok(server.post("domain/add", {"domain": "auto.test"}))["domains"]
        selector = entry["domain"]["dkim_selector"]  # the key is new: its TXT record cannot be there yet
        assert _checks(entry) == [
            (False, f"no TXT record found at {selector}._domainkey.auto.test"),
            (True, ""),
            (True, ""),
        ]
        [manual] = ok(server.post("domain/add", {"domain": "manual.test", "auto_verify": "false"}))["domains"]
        assert {status for _, status in _checks(manual)} == {"not verified yet"}
        assert _checks(_verify(server, "manual.test"))[1:] == [(True, ""), (True, "")]
