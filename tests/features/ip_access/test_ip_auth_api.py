"""/v3/ip_auth/{view,edit,remove} and PATCH /ip_auth/patch, end to end through a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from conftest import RunningServer
from envelope_checks import error as _error
from envelope_checks import invalid as _invalid
from envelope_checks import ok as _ok
from postroom.storage.tables import ip_auth

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
API_EXCEPTION = "E_ApiResponseCodes.API_EXCEPTION"
DEFAULTS = {
    "sending_allowed": True,
    "custom_ratelimit": False,
    "custom_ratelimit_value": None,
    "custom_ratelimit_period": "0:00:00",
    "description": "",
    "feedback_enabled": False,
    "feedback_domain": "default",
    "feedback_html": "",
    "feedback_text": "",
    "archive_enabled": False,
    "open_tracking_enabled": False,
    "click_tracking_enabled": False,
    "audit_email": None,
    "bounce_notifications": "from",
    "status": "allowed",
}
CUSTOM = {
    "description": "office printer",
    "custom_ratelimit": True,
    "custom_ratelimit_value": 50,
    "custom_ratelimit_period": "1 Hours",
    "ip_pool": 2,
    "feedback_enabled": True,
    "feedback_domain": "Example.ORG",
    "feedback_html": "<a href='%%UNSUBSCRIBE%%'>unsubscribe</a>",
    "feedback_text": "unsubscribe: %%UNSUBSCRIBE%%",
    "open_tracking_enabled": True,
    "click_tracking_enabled": True,
    "archive_enabled": True,
    "audit_email": "Audit <audit@example.org>",
    "bounce_notifications": "drop",
    "status": "sandbox",
}
CUSTOM_RESULT = {
    **DEFAULTS,
    **{k: v for k, v in CUSTOM.items() if k != "ip_pool"},
    "custom_ratelimit_period": "1 hour",
    "feedback_domain": "example.org",
    "audit_email": "audit@example.org",
}


POOLS = "main=127.0.0.2;bulk=127.0.0.3"


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """A server with two dedicated IP pools, so that CUSTOM's `ip_pool: 2` names a configured one."""
    return make_server(ip_pools=POOLS)


def _view(server: RunningServer, key: str = "default", **fields: Any) -> list[dict[str, Any]]:
    data = _ok(server.post("ip_auth/view", fields, key=key))
    assert data["default_ratelimit_value"] is None and data["default_ratelimit_period"] == "unlimited"
    results: list[dict[str, Any]] = data["results"]
    return results


def _rows(server: RunningServer) -> list[dict[str, Any]]:
    db = server.app.state.services.db
    rows = db.read_sync(lambda c: c.execute(select(ip_auth).order_by(ip_auth.c.id)).all())
    return [dict(r._mapping) for r in rows]


def test_patch_creates_an_entry_and_answers_a_list(server: RunningServer) -> None:
    assert _view(server) == []
    data = _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10"}))
    assert data == [{"ip_address": "192.0.2.10", **DEFAULTS}]
    assert _view(server) == data
    [row] = _rows(server)
    assert row["ip_address"] == "192.0.2.10" and row["settings"]["custom_ratelimit_seconds"] == 0


def test_patch_creates_with_every_setting_given(server: RunningServer) -> None:
    data = _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", **CUSTOM}))
    assert data == [{"ip_address": "192.0.2.10", **CUSTOM_RESULT}]
    [row] = _rows(server)
    assert row["settings"]["ip_pool"] == 2 and row["settings"]["custom_ratelimit_seconds"] == 3600


def test_patch_changes_only_what_it_is_given(server: RunningServer) -> None:
    _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", **CUSTOM}))
    data = _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "status": "blocked"}))
    assert data == [
        {"ip_address": "192.0.2.10", **CUSTOM_RESULT, "status": "blocked", "sending_allowed": False}
    ]
    assert _rows(server)[0]["settings"]["ip_pool"] == 2
    data = _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "custom_ratelimit_value": 7}))
    assert (data[0]["custom_ratelimit_value"], data[0]["custom_ratelimit_period"]) == (7, "1 hour")
    assert data[0]["status"] == "blocked" and len(_rows(server)) == 1


def test_post_edit_resets_what_it_is_not_given_and_creates_too(server: RunningServer) -> None:
    _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", **CUSTOM}))
    data = _ok(server.post("ip_auth/edit", {"ip_address": "192.0.2.10", "description": "only this"}))
    assert data["default_ratelimit_period"] == "unlimited"
    assert data["results"] == [{"ip_address": "192.0.2.10", **DEFAULTS, "description": "only this"}]
    assert _rows(server)[0]["settings"]["ip_pool"] is None
    created = _ok(server.post("ip_auth/edit", {"ip_address": "192.0.2.11", "archive_enabled": "yes"}))
    assert created["results"] == [{"ip_address": "192.0.2.11", **DEFAULTS, "archive_enabled": True}]
    assert [e["ip_address"] for e in _view(server)] == ["192.0.2.10", "192.0.2.11"]


def test_the_patch_alias_behaves_like_the_canonical_path(server: RunningServer) -> None:
    data = _ok(server.patch("ip_auth/patch", {"ip_address": "192.0.2.10", "description": "a"}))
    assert data == [{"ip_address": "192.0.2.10", **DEFAULTS, "description": "a"}]
    data = _ok(server.patch("ip_auth/patch", {"ip_address": "192.0.2.10", "status": "sandbox"}))
    assert (data[0]["description"], data[0]["status"]) == ("a", "sandbox")
    data = _ok(server.post("ip_auth/patch", {"ip_address": "192.0.2.10", "archive_enabled": True}))
    assert data["results"] == [{"ip_address": "192.0.2.10", **DEFAULTS, "archive_enabled": True}]


def test_view_filters_and_remove(server: RunningServer) -> None:
    for ip in ("192.0.2.10", "2001:db8::1"):
        _ok(server.patch("ip_auth/edit", {"ip_address": ip}))
    assert [e["ip_address"] for e in _view(server, ip_address="2001:DB8:0::1")] == ["2001:db8::1"]
    assert _view(server, ip_address="192.0.2.99") == []
    data = _ok(server.post("ip_auth/remove", {"ip_address": "192.0.2.10"}))
    assert data["results"] == [{"ip_address": "192.0.2.10", **DEFAULTS}]
    assert [e["ip_address"] for e in _view(server)] == ["2001:db8::1"]
    assert "192.0.2.10" in _error(server.post("ip_auth/remove", {"ip_address": "192.0.2.10"}), 404)["error"]


@pytest.mark.parametrize(
    ("given", "stored", "other_form"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1", "127.0.0.1"),
        ("::FFFF:7f00:1", "127.0.0.1", "::ffff:127.0.0.1"),
        ("2001:DB8::1", "2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001"),
        (" 192.0.2.10 ", "192.0.2.10", "192.0.2.10"),
        ("fe80::1%eth0", "fe80::1", "FE80::1"),
    ],
)
def test_addresses_are_normalised(server: RunningServer, given: str, stored: str, other_form: str) -> None:
    assert _ok(server.patch("ip_auth/edit", {"ip_address": given}))[0]["ip_address"] == stored
    _ok(server.patch("ip_auth/edit", {"ip_address": other_form, "description": "same entry"}))
    assert [(e["ip_address"], e["description"]) for e in _view(server)] == [(stored, "same entry")]
    _ok(server.post("ip_auth/remove", {"ip_address": other_form}))
    assert _rows(server) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ip_address": "10.0.0.0/8"}, "ip_address"),
        ({"ip_address": "999.1.1.1"}, "ip_address"),
        ({"ip_address": "010.1.1.1"}, "ip_address"),
        ({"ip_address": "example.com"}, "ip_address"),
        ({"ip_address": 3232235777}, "ip_address"),
        ({"ip_address": ["192.0.2.1"]}, "ip_address"),
        ({"ip_address": None, "description": "no address"}, "ip_address"),
        ({"status": "paused"}, "status"),
        ({"custom_ratelimit_period": "2 fortnights"}, "custom_ratelimit_period"),
        ({"custom_ratelimit": True, "custom_ratelimit_period": "1 hour"}, "custom_ratelimit_value"),
        ({"custom_ratelimit_value": "many"}, "custom_ratelimit_value"),
        ({"archive_enabled": "maybe"}, "archive_enabled"),
        ({"description": 5}, "description"),
        ({"audit_email": "not an address"}, "audit_email"),
        ({"bounce_notifications": "sometimes"}, "bounce_notifications"),
        ({"feedback_domain": "not a domain"}, "feedback_domain"),
    ],
)
def test_field_validation_errors_name_the_field(
    server: RunningServer, fields: dict[str, Any], field: str
) -> None:
    body = {"ip_address": "192.0.2.10", **fields}
    _invalid(server.patch("ip_auth/edit", body), field)
    _invalid(server.post("ip_auth/edit", body), field)
    assert _rows(server) == []


def test_view_and_remove_validate_the_address(server: RunningServer) -> None:
    _invalid(server.post("ip_auth/view", {"ip_address": "nope"}), "ip_address")
    _invalid(server.post("ip_auth/remove", {"ip_address": "192.0.2.0/24"}), "ip_address")
    _invalid(server.post("ip_auth/remove", {}), "ip_address")


def test_a_patch_is_validated_against_the_stored_settings(server: RunningServer) -> None:
    _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "custom_ratelimit_value": 10}))
    _invalid(
        server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "custom_ratelimit": True}),
        "custom_ratelimit_period",
    )
    body = {"ip_address": "192.0.2.10", "custom_ratelimit": "on", "custom_ratelimit_period": "0:30:00"}
    assert _ok(server.patch("ip_auth/edit", body))[0]["custom_ratelimit"] is True


def test_methods(server: RunningServer) -> None:
    _error(server.patch("ip_auth/view", {}), 405)
    _error(server.patch("ip_auth/remove", {"ip_address": "192.0.2.10"}), 405)
    with server.client() as c:
        _error(c.get("/v3/ip_auth/view"), 405)


def test_an_alias_is_allowed_exactly_when_its_canonical_path_is(server: RunningServer) -> None:
    key = server.account_key(["/ip_auth/edit"], same=True)
    _ok(server.patch("ip_auth/patch", {"ip_address": "192.0.2.10"}, key=key))
    _error(server.post("ip_auth/view", {}, key=key), 403, "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED")


def test_an_account_sees_and_changes_only_its_own_entries(server: RunningServer) -> None:
    _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "description": "mine"}))
    other = server.account_key()
    assert _view(server, key=other) == []
    assert _view(server, key=other, ip_address="192.0.2.10") == []
    taken = server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "status": "blocked"}, key=other)
    assert "another account" in _error(taken, 402)["error"]
    _error(server.post("ip_auth/edit", {"ip_address": "::ffff:192.0.2.10"}, key=other), 402)
    _error(server.post("ip_auth/remove", {"ip_address": "192.0.2.10"}, key=other), 404)
    assert _view(server) == [{"ip_address": "192.0.2.10", **DEFAULTS, "description": "mine"}]
    _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.20"}, key=other))
    assert [e["ip_address"] for e in _view(server)] == ["192.0.2.10"]
    assert [e["ip_address"] for e in _view(server, key=other)] == ["192.0.2.20"]


def test_an_ip_pool_must_name_a_configured_pool(server: RunningServer) -> None:
    _invalid(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", "ip_pool": 3}), "ip_pool")
    assert _rows(server) == []


async def test_the_entrys_pool_and_audit_address_reach_the_smtp_sender(server: RunningServer) -> None:
    _ok(server.patch("ip_auth/edit", {"ip_address": "192.0.2.10", **CUSTOM}))
    sender = await server.app.state.services.ip_access.sender_for_ip("192.0.2.10")
    assert sender is not None
    assert (sender.ip_pool, sender.audit_email) == (2, "audit@example.org")
