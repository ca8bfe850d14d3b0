"""/v3/domain/* end to end through a real server, without DNS: every add here has auto_verify off.

Verification against a real DNS server is in test_domains_verify.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, update

from conftest import RunningServer
from envelope_checks import error, invalid, ok
from postroom.features.domains.keyring import DkimKeyring
from postroom.mail.dkim import load_private_key, public_b64_of
from postroom.storage.tables import sender_domains

PERMISSION_DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
NOT_VERIFIED = "not verified yet"
SELECTOR = re.compile(r"postroom-\d{8}-[0-9a-f]{4}")


def _add(server: RunningServer, domain: str = "example.com", key: str = "default", **fields: Any) -> Any:
    data = ok(server.post("domain/add", {"domain": domain, "auto_verify": False, **fields}, key=key))
    [entry] = data["domains"]
    return entry


def _view(server: RunningServer, key: str = "default", **fields: Any) -> list[dict[str, Any]]:
    domains: list[dict[str, Any]] = ok(server.post("domain/view", fields, key=key))["domains"]
    return domains


def _row(server: RunningServer, domain: str) -> dict[str, Any]:
    query = select(sender_domains).where(sender_domains.c.domain == domain)
    row = server.app.state.services.db.read_sync(lambda c: c.execute(query).first())
    assert row is not None
    return dict(row._mapping)


def _mark_verified(server: RunningServer, domain: str) -> None:
    values = {f"{r}_verified": True for r in ("dkim", "rpath", "tracking")}
    values |= {f"{r}_status": "" for r in ("dkim", "rpath", "tracking")}
    query = update(sender_domains).where(sender_domains.c.domain == domain).values(**values)
    server.app.state.services.db.write_sync(lambda c: c.execute(query))


def test_add_answers_the_domain_object_and_the_records_to_publish(server: RunningServer) -> None:
    entry = _add(server, "Mail.Example.com")
    info = entry["domain"]
    selector = info["dkim_selector"]
    assert SELECTOR.fullmatch(selector)
    public_key = public_b64_of(load_private_key(_row(server, "mail.example.com")["dkim_private_key"]))
    dkim_value = f"v=DKIM1; k=rsa; p={public_key}"
    assert info == {
        "fulldomain": "mail.example.com",
        "subdomain": "mail",
        "domain": "example",
        "suffix": "com",
        "dkim_selector": selector,
        "dkim_verified": False,
        "dkim_status": NOT_VERIFIED,
        "dkim_value": dkim_value,
        "rpath_selector": "em",
        "rpath_verified": False,
        "rpath_status": NOT_VERIFIED,
        "rpath_value": "localhost",  # return_path_domain unset: the host name
        "setup_link": f"{server.base_url}/domains/mail.example.com",
    }
    assert entry["trackers"] == [
        {
            "fulldomain": "link.mail.example.com",
            "subdomain": "link.mail",
            "domain": "example",
            "suffix": "com",
            "cname_verified": False,
            "cname_status": NOT_VERIFIED,
            "cname_value": "localhost",
            "enabled": False,
        }
    ]
    assert entry["subaccount_access"] == {"subaccounts": [], "future_subaccounts": False}
    assert entry["dns_records"] == [
        {"record": "dkim", "type": "TXT", "name": f"{selector}._domainkey.mail.example.com",
         "value": dkim_value, "verified": False, "status": NOT_VERIFIED},
        {"record": "returnpath", "type": "CNAME", "name": "em.mail.example.com",
         "value": "localhost", "verified": False, "status": NOT_VERIFIED},
        {"record": "tracking", "type": "CNAME", "name": "link.mail.example.com",
         "value": "localhost", "verified": False, "status": NOT_VERIFIED},
    ]  # fmt: skip
    assert _row(server, "mail.example.com")["verified_at"] is None


def test_a_new_domain_signs_at_once_verified_or_not(server: RunningServer) -> None:
    selector = _add(server)["domain"]["dkim_selector"]
    keyring = DkimKeyring(server.app.state.services.db)
    keyring.refresh_sync()
    key = keyring.lookup("example.com")
    assert key is not None and key.selector == selector


def test_add_with_chosen_subdomains_and_subaccount_access(make_server: Any) -> None:
    server = make_server(hostname="mail.postroom.test", return_path_domain="Bounces.Postroom.test")
    access = {"subaccounts": ["sub-1", 42, "sub-1"], "future_subaccounts": "true"}
    entry = _add(server, "example.org", tracking_subdomain="Track", returnpath_subdomain="rp.mail",
                 subaccount_access=access, requisition_ssl=False)  # fmt: skip
    assert entry["domain"]["rpath_selector"] == "rp.mail"
    assert entry["domain"]["rpath_value"] == "bounces.postroom.test"
    [tracker] = entry["trackers"]
    assert (tracker["fulldomain"], tracker["cname_value"]) == ("track.example.org", "mail.postroom.test")
    assert [r["name"] for r in entry["dns_records"][1:]] == ["rp.mail.example.org", "track.example.org"]
    assert entry["subaccount_access"] == {"subaccounts": ["sub-1", "42"], "future_subaccounts": True}
    [viewed] = _view(server, domain="example.org")
    assert viewed["subaccount_access"] == entry["subaccount_access"]


def test_an_idn_is_stored_and_shown_as_its_a_label(server: RunningServer) -> None:
    entry = _add(server, "Bücher.example")
    assert entry["domain"]["fulldomain"] == "xn--bcher-kva.example"
    assert entry["dns_records"][0]["name"].endswith("._domainkey.xn--bcher-kva.example")
    assert _row(server, "xn--bcher-kva.example")["domain"] == "xn--bcher-kva.example"
    assert [d["domain"]["fulldomain"] for d in _view(server, domain="bücher.EXAMPLE")] == [
        "xn--bcher-kva.example"
    ]


def test_a_domain_added_twice_by_any_account_is_402(server: RunningServer) -> None:
    _add(server, "bücher.example")
    for domain in ("xn--bcher-kva.example", "BÜCHER.example."):
        assert "already been added" in error(server.post("domain/add", {"domain": domain}), 402)["error"]
    other = server.account_key()
    error(server.post("domain/add", {"domain": "bücher.example"}, key=other), 402)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("domain/add", {}, "domain"),
        ("domain/add", {"domain": None}, "domain"),
        ("domain/add", {"domain": "not a domain"}, "domain"),
        ("domain/add", {"domain": "localhost"}, "domain"),
        ("domain/add", {"domain": "192.0.2.1"}, "domain"),
        ("domain/add", {"domain": "user@example.com"}, "domain"),
        ("domain/add", {"domain": 7}, "domain"),
        ("domain/add", {"domain": "a" * 240 + ".example"}, "domain"),  # no room for the DKIM record name
        ("domain/add", {"domain": "example.com", "tracking_subdomain": "bad_label"}, "tracking_subdomain"),
        ("domain/add", {"domain": "example.com", "returnpath_subdomain": "-x"}, "returnpath_subdomain"),
        ("domain/add", {"domain": "example.com", "tracking_subdomain": "em"}, "returnpath_subdomain"),
        ("domain/add", {"domain": "example.com", "auto_verify": "maybe"}, "auto_verify"),
        ("domain/add", {"domain": "example.com", "subaccount_access": []}, None),  # [] is absent: fine
        ("domain/add", {"domain": "example.com", "subaccount_access": {"subaccounts": "x"}},
         "subaccount_access.subaccounts"),
        ("domain/verify", {}, "domain"),
        ("domain/verify", {"domain": "exa mple.com"}, "domain"),
        ("domain/view", {"domain": "no_such"}, "domain"),
        ("domain/remove", {}, "domain"),
        ("domain/tracking", {"domain": "example.com", "new_subdomain": "t"}, "old_subdomain"),
        ("domain/tracking", {"domain": "example.com", "old_subdomain": "link"}, "new_subdomain"),
        ("domain/returnpath", {"old_subdomain": "em", "new_subdomain": "rp"}, "domain"),
        ("domain/returnpath", {"domain": "example.com", "old_subdomain": "em", "new_subdomain": "r p"},
         "new_subdomain"),
        ("domain/subaccount_access", {"subaccounts": ["a"]}, "domain"),
        ("domain/subaccount_access", {"domain": "example.com", "future_subaccounts": "sometimes"},
         "future_subaccounts"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_field(
    server: RunningServer, path: str, body: dict[str, Any], field: str | None
) -> None:
    r = server.post(path, {"auto_verify": False, **body} if path == "domain/add" else body)
    if field is None:
        ok(r)
    else:
        invalid(r, field)


def test_view_lists_all_or_one_with_a_setup_link_only_for_one(server: RunningServer) -> None:
    assert _view(server) == []
    _add(server, "b.example")
    [alone] = _view(server)
    assert alone["domain"]["setup_link"] == f"{server.base_url}/domains/b.example"
    assert alone["from_master"] is False
    _add(server, "a.example")
    listed = _view(server)
    assert [d["domain"]["fulldomain"] for d in listed] == ["a.example", "b.example"]
    assert {d["domain"]["setup_link"] for d in listed} == {"unavailable"}
    [one] = _view(server, domain="A.example.")
    assert one["domain"]["setup_link"] == f"{server.base_url}/domains/a.example"
    assert set(one) == {"domain", "trackers", "subaccount_access", "dns_records", "from_master"}
    error(server.post("domain/view", {"domain": "c.example"}), 404)


def test_remove_answers_an_empty_list_and_the_name_can_be_added_again(server: RunningServer) -> None:
    first = _add(server)["domain"]["dkim_value"]
    assert ok(server.post("domain/remove", {"domain": "EXAMPLE.com"})) == {"domains": []}
    assert _view(server) == []
    error(server.post("domain/remove", {"domain": "example.com"}), 404)
    error(server.post("domain/verify", {"domain": "example.com"}), 404)
    assert _add(server)["domain"]["dkim_value"] != first  # a new key


@pytest.mark.parametrize(
    ("path", "old", "new", "record", "check"),
    [
        ("domain/tracking", "link", "t", "tracking", "cname"),
        ("domain/returnpath", "em", "bounce", "returnpath", "rpath"),
    ],
)
def test_renaming_a_subdomain_resets_only_that_record(
    server: RunningServer, path: str, old: str, new: str, record: str, check: str
) -> None:
    _add(server)
    _mark_verified(server, "example.com")
    body = {"domain": "example.com", "old_subdomain": old, "new_subdomain": new.upper()}
    [entry] = ok(server.post(path, body))["domains"]
    records = {r["record"]: r for r in entry["dns_records"]}
    assert records[record]["name"] == f"{new}.example.com"
    assert (records[record]["verified"], records[record]["status"]) == (False, NOT_VERIFIED)
    others = [r for name, r in records.items() if name != record]
    assert all(r["verified"] and r["status"] == "" for r in others)
    info, [tracker] = entry["domain"], entry["trackers"]
    verified = info["rpath_verified"] if check == "rpath" else tracker["cname_verified"]
    assert verified is False and info["dkim_verified"] is True
    [viewed] = _view(server)
    assert viewed["dns_records"] == entry["dns_records"]
    error(server.post(path, body), 404)  # the old subdomain is no longer the record's
    same = {"domain": "example.com", "old_subdomain": new, "new_subdomain": new}
    assert ok(server.post(path, same))["domains"][0]["dns_records"] == entry["dns_records"]


def test_the_two_cname_subdomains_must_differ(server: RunningServer) -> None:
    _add(server)
    body = {"domain": "example.com", "old_subdomain": "link", "new_subdomain": "em"}
    invalid(server.post("domain/tracking", body), "new_subdomain")


def test_subaccount_access_is_stored_and_echoed(server: RunningServer) -> None:
    _add(server)
    body = {"domain": "Example.com", "subaccounts": ["s1", "s2"], "future_subaccounts": True}
    expected = {"domain": "example.com", "subaccounts": ["s1", "s2"], "future_subaccounts": True}
    assert ok(server.post("domain/subaccount_access", body)) == expected
    assert _view(server)[0]["subaccount_access"] == {"subaccounts": ["s1", "s2"], "future_subaccounts": True}
    cleared = ok(server.post("domain/subaccount_access", {"domain": "example.com", "subaccounts": []}))
    assert cleared == {"domain": "example.com", "subaccounts": [], "future_subaccounts": False}


ALL_PATHS = [
    ("domain/add", {"domain": "other.example", "auto_verify": False}),
    ("domain/verify", {"domain": "example.com"}),
    ("domain/view", {}),
    ("domain/remove", {"domain": "example.com"}),
    ("domain/tracking", {"domain": "example.com", "old_subdomain": "link", "new_subdomain": "t"}),
    ("domain/returnpath", {"domain": "example.com", "old_subdomain": "em", "new_subdomain": "r"}),
    ("domain/subaccount_access", {"domain": "example.com", "subaccounts": ["s"]}),
]


def test_a_key_without_the_domain_permission_is_refused(server: RunningServer) -> None:
    _add(server)
    sender_only = server.account_key(["/email/send"], same=True)
    for path, body in ALL_PATHS:
        error(server.post(path, body, key=sender_only), 403, PERMISSION_DENIED)
    domains_only = server.account_key(["/domain/*"], same=True)
    assert [d["domain"]["fulldomain"] for d in _view(server, key=domains_only)] == ["example.com"]


def test_another_accounts_domain_is_not_found(server: RunningServer) -> None:
    _add(server)
    other = server.account_key()
    assert _view(server, key=other) == []
    for path, body in ALL_PATHS[1:]:
        if path != "domain/view":
            error(server.post(path, body, key=other), 404)
    error(server.post("domain/view", {"domain": "example.com"}, key=other), 404)
    [mine] = _view(server)  # untouched
    assert (
        mine["subaccount_access"]["subaccounts"] == []
        and mine["trackers"][0]["fulldomain"] == "link.example.com"
    )
    _add(server, "theirs.example", key=other)
    assert [d["domain"]["fulldomain"] for d in _view(server)] == ["example.com"]
