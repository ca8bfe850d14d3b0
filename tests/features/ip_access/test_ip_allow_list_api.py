"""/v3/ip_allow_list and /ip_allow_list/{view,add,edit,remove} (and /ip_allowlist/*), end to end."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from conftest import RunningServer
from envelope_checks import error as _error
from envelope_checks import invalid as _invalid
from envelope_checks import ok as _ok
from postroom.storage.tables import ip_allow_list_entries

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
API_EXCEPTION = "E_ApiResponseCodes.API_EXCEPTION"


def _view(
    server: RunningServer, kind: str = "", key: str = "default", path: str = "ip_allow_list/view"
) -> Any:
    return _ok(server.post(path, {"type": kind} if kind else {}, key=key))


def _add(server: RunningServer, ip: str, description: str = "", kind: str = "", key: str = "default") -> Any:
    body = {"ip_address": ip, "description": description, "type": kind}
    return _ok(server.post("ip_allow_list/add", body, key=key))


def _networks(server: RunningServer) -> list[tuple[str, str]]:
    db = server.app.state.services.db
    t = ip_allow_list_entries
    rows = db.read_sync(lambda c: c.execute(select(t.c.type, t.c.network).order_by(t.c.id)).all())
    return [(r.type, r.network) for r in rows]


def test_enable_and_disable_each_type(server: RunningServer) -> None:
    assert _view(server) == {"enabled": False, "ip_addresses": []}
    assert _ok(server.post("ip_allow_list", {"enabled": True})) == {"enabled": True}
    assert _view(server)["enabled"] is True and _view(server, "smtp")["enabled"] is True
    assert _view(server, "api")["enabled"] is False
    # the caller's own address first: an enabled API list without it locks the account out of the API
    assert _ok(server.post("ip_allow_list/add", {"ip_address": "127.0.0.1", "type": "api"}))
    assert _ok(server.post("ip_allow_list", {"enabled": "yes", "type": "api"})) == {"enabled": True}
    assert _view(server, "api")["enabled"] is True
    assert _ok(server.post("ip_allow_list", {"enabled": 0, "type": "smtp"})) == {"enabled": False}
    assert _ok(server.post("ip_allow_list", {"enabled": "off"})) == {"enabled": False}
    assert (_view(server, "smtp")["enabled"], _view(server, "api")["enabled"]) == (False, True)


def test_an_api_list_without_the_callers_address_locks_the_api(server: RunningServer) -> None:
    assert _ok(server.post("ip_allow_list", {"enabled": True, "type": "api"})) == {"enabled": True}
    r = server.post("ip_allow_list/view", {"type": "api"})
    assert r.status_code == 403
    assert r.json()["data"]["error_code"] == "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"


def test_enable_validation(server: RunningServer) -> None:
    _invalid(server.post("ip_allow_list", {}), "enabled")
    _invalid(server.post("ip_allow_list", {"enabled": "maybe"}), "enabled")
    _invalid(server.post("ip_allow_list", {"enabled": True, "type": "web"}), "type")
    _invalid(server.post("ip_allow_list", {"enabled": True, "type": 1}), "type")
    assert _view(server)["enabled"] is False


def test_add_view_edit_remove(server: RunningServer) -> None:
    assert _add(server, "10.1.2.3/8", "office") == {"ip_address": "10.0.0.0/8", "description": "office"}
    assert _add(server, "192.0.2.7") == {"ip_address": "192.0.2.7", "description": ""}
    assert _add(server, "2001:DB8::/32", kind="api")["ip_address"] == "2001:db8::/32"
    assert _view(server) == {
        "enabled": False,
        "ip_addresses": [
            {"ip_address": "10.0.0.0/8", "description": "office"},
            {"ip_address": "192.0.2.7", "description": ""},
        ],
    }
    assert _view(server, "api")["ip_addresses"] == [{"ip_address": "2001:db8::/32", "description": ""}]
    edited = _ok(
        server.post("ip_allow_list/edit", {"ip_address": "10.9.9.9/8", "new_ip_address": "10.0.0.0/16"})
    )
    assert edited == {"ip_address": "10.0.0.0/16", "description": "office"}  # the description is kept
    edited = _ok(server.post("ip_allow_list/edit", {"ip_address": "192.0.2.7", "description": "vpn"}))
    assert edited == {"ip_address": "192.0.2.7", "description": "vpn"}  # the range is kept
    removed = _ok(server.post("ip_allow_list/remove", {"ip_address": "10.0.0.0/16"}))
    assert removed == {"ip_address": "10.0.0.0/16", "description": "office"}
    assert _view(server)["ip_addresses"] == [{"ip_address": "192.0.2.7", "description": "vpn"}]
    _ok(server.post("ip_allow_list/remove", {"ip_address": "2001:db8:0::/32", "type": "api"}))
    assert _networks(server) == [("smtp", "192.0.2.7/32")]


@pytest.mark.parametrize(
    ("given", "answered", "stored"),
    [
        ("10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/255.0.0.0", "10.0.0.0/8", "10.0.0.0/8"),
        ("::ffff:127.0.0.1", "127.0.0.1", "127.0.0.1/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8", "10.0.0.0/8"),
        ("2001:DB8::1", "2001:db8::1", "2001:db8::1/128"),
        ("2001:db8::1/32", "2001:db8::/32", "2001:db8::/32"),
        (" 0.0.0.0/0 ", "0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_ranges_are_normalised(server: RunningServer, given: str, answered: str, stored: str) -> None:
    assert _add(server, given)["ip_address"] == answered
    assert _networks(server) == [("smtp", stored)]
    _error(server.post("ip_allow_list/add", {"ip_address": stored}), 402)  # the same range, written as stored
    _ok(server.post("ip_allow_list/remove", {"ip_address": given}))
    assert _networks(server) == []


@pytest.mark.parametrize(
    ("address", "with_prefix"),
    [("198.51.100.7", "198.51.100.7/32"), ("2001:db8::7", "2001:db8::7/128")],
)
def test_a_single_address_reads_back_as_it_was_added(
    server: RunningServer, address: str, with_prefix: str
) -> None:
    """A client comparing what it added with what it reads sees no drift; either spelling names it."""
    assert _add(server, address, "one host") == {"ip_address": address, "description": "one host"}
    assert _view(server)["ip_addresses"] == [{"ip_address": address, "description": "one host"}]
    assert "already" in _error(server.post("ip_allow_list/add", {"ip_address": with_prefix}), 402)["error"]
    edited = _ok(server.post("ip_allow_list/edit", {"ip_address": with_prefix, "description": "renamed"}))
    assert edited == {"ip_address": address, "description": "renamed"}
    assert _ok(server.post("ip_allow_list/remove", {"ip_address": with_prefix}))["ip_address"] == address
    assert _view(server)["ip_addresses"] == []
    assert _add(server, with_prefix)["ip_address"] == address  # the same entry, whichever spelling added it
    assert _ok(server.post("ip_allow_list/remove", {"ip_address": address}))["ip_address"] == address
    moved = _ok(server.post("ip_allow_list/add", {"ip_address": "192.0.2.0/24"}))
    assert moved["ip_address"] == "192.0.2.0/24"
    renamed = {"ip_address": "192.0.2.0/24", "new_ip_address": with_prefix}
    assert _ok(server.post("ip_allow_list/edit", renamed))["ip_address"] == address
    assert _view(server)["ip_addresses"] == [{"ip_address": address, "description": ""}]


def test_existing_and_missing_entries(server: RunningServer) -> None:
    _add(server, "10.0.0.0/8")
    _add(server, "192.0.2.0/24")
    assert "already" in _error(server.post("ip_allow_list/add", {"ip_address": "10.2.0.0/8"}), 402)["error"]
    _add(server, "10.0.0.0/8", kind="api")  # another type is another list
    moved = server.post("ip_allow_list/edit", {"ip_address": "10.0.0.0/8", "new_ip_address": "192.0.2.9/24"})
    _error(moved, 402)
    same = {"ip_address": "10.0.0.0/8", "new_ip_address": "10.0.0.1/8", "description": "x"}
    assert _ok(server.post("ip_allow_list/edit", same)) == {"ip_address": "10.0.0.0/8", "description": "x"}
    for path, body in (
        ("ip_allow_list/edit", {"ip_address": "172.16.0.0/12", "description": "x"}),
        ("ip_allow_list/remove", {"ip_address": "172.16.0.0/12"}),
        ("ip_allow_list/remove", {"ip_address": "192.0.2.0/24", "type": "api"}),
    ):
        _error(server.post(path, body), 404)
    assert _networks(server) == [("smtp", "10.0.0.0/8"), ("smtp", "192.0.2.0/24"), ("api", "10.0.0.0/8")]


@pytest.mark.parametrize(
    ("path", "fields", "field"),
    [
        ("ip_allow_list/add", {"ip_address": "10.0.0.0/33"}, "ip_address"),
        ("ip_allow_list/add", {"ip_address": "10.0.0.256"}, "ip_address"),
        ("ip_allow_list/add", {"ip_address": "10.0.0.0/8/8"}, "ip_address"),
        ("ip_allow_list/add", {"ip_address": "2001:db8::/129"}, "ip_address"),
        ("ip_allow_list/add", {"ip_address": "office"}, "ip_address"),
        ("ip_allow_list/add", {"ip_address": 167772160}, "ip_address"),
        ("ip_allow_list/add", {"description": "no address"}, "ip_address"),
        ("ip_allow_list/add", {"ip_address": "10.0.0.0/8", "type": "SMTPS"}, "type"),
        ("ip_allow_list/add", {"ip_address": "10.0.0.0/8", "description": ["x"]}, "description"),
        (
            "ip_allow_list/edit",
            {"ip_address": "10.0.0.0/8", "new_ip_address": "10.0.0.0/40"},
            "new_ip_address",
        ),
        ("ip_allow_list/edit", {"ip_address": "bad", "new_ip_address": "10.0.0.0/8"}, "ip_address"),
        ("ip_allow_list/edit", {"new_ip_address": "10.0.0.0/8"}, "ip_address"),
        ("ip_allow_list/edit", {"ip_address": "10.0.0.0/8", "type": "imap"}, "type"),
        ("ip_allow_list/remove", {"ip_address": "x.x.x.x"}, "ip_address"),
        ("ip_allow_list/remove", {"ip_address": "10.0.0.0/8", "type": ["api"]}, "type"),
        ("ip_allow_list/view", {"type": "both"}, "type"),
    ],
)
def test_field_validation_errors_name_the_field(
    server: RunningServer, path: str, fields: dict[str, Any], field: str
) -> None:
    _add(server, "10.0.0.0/8", "kept")
    _invalid(server.post(path, fields), field)
    assert _networks(server) == [("smtp", "10.0.0.0/8")]


def test_every_alias_behaves_like_its_canonical_path(server: RunningServer) -> None:
    added = _ok(server.post("ip_allowlist/add", {"ip_address": "10.1.2.3/8", "type": "api"}))
    assert added == {"ip_address": "10.0.0.0/8", "description": ""}
    edited = _ok(
        server.post("ip_allowlist/edit", {"ip_address": "10.0.0.0/8", "description": "a", "type": "api"})
    )
    assert edited == {"ip_address": "10.0.0.0/8", "description": "a"}
    assert _view(server, "api", path="ip_allowlist/view")["ip_addresses"] == [edited]
    _ok(server.post("ip_allowlist/remove", {"ip_address": "10.0.0.0/8", "type": "api"}))
    assert _view(server, "api", path="ip_allowlist/view") == {"enabled": False, "ip_addresses": []}


def test_methods(server: RunningServer) -> None:
    with server.client() as c:
        headers = {"X-Smtp2go-Api-Key": server.key}
        _error(c.patch("/v3/ip_allow_list/add", json={"ip_address": "10.0.0.0/8"}, headers=headers), 405)
        _error(c.get("/v3/ip_allow_list/view", headers=headers), 405)
        _error(c.get("/v3/ip_allow_list", headers=headers), 405)


def test_an_account_sees_and_changes_only_its_own_lists(server: RunningServer) -> None:
    _add(server, "10.0.0.0/8", "mine")
    _ok(server.post("ip_allow_list", {"enabled": True}))
    other = server.account_key()
    assert _view(server, key=other) == {"enabled": False, "ip_addresses": []}
    _error(
        server.post("ip_allow_list/edit", {"ip_address": "10.0.0.0/8", "description": "x"}, key=other), 404
    )
    _error(server.post("ip_allow_list/remove", {"ip_address": "10.0.0.0/8"}, key=other), 404)
    assert _add(server, "10.0.0.0/8", "theirs", key=other) == {
        "ip_address": "10.0.0.0/8",
        "description": "theirs",
    }
    _ok(server.post("ip_allow_list", {"enabled": False}, key=other))
    assert _view(server) == {
        "enabled": True,
        "ip_addresses": [{"ip_address": "10.0.0.0/8", "description": "mine"}],
    }
    assert _view(server, key=other) == {
        "enabled": False,
        "ip_addresses": [{"ip_address": "10.0.0.0/8", "description": "theirs"}],
    }
