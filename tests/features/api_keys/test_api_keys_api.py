"""/v3/api_keys/* end to end through a real server: add, edit (POST and PATCH), view, remove, permissions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from conftest import TEST_KEY, RunningServer
from envelope_checks import error, invalid, ok
from postroom.api import access
from postroom.storage.tables import api_keys

PERMISSION_DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
FULL_KEY = re.compile(r"^api-[0-9A-F]{32}$")
MASKED = re.compile(r"^api-[0-9A-Fa-f]{12}\*{20}$")
DEFAULTS = {
    "description": "",
    "custom_rate_limit": False,
    "custom_ratelimit_value": None,
    "custom_ratelimit_period": "0:00:00",
    "default_ratelimit_value": None,
    "default_ratelimit_period": "unlimited",
    "ippool": None,
    "feedback_enabled": False,
    "feedback_html": "",
    "feedback_text": "",
    "open_tracking_enabled": False,
    "click_tracking_enabled": False,
    "archive_enabled": False,
    "audit_email": None,
    "bounce_notifications": "from",
    "status": "allowed",
    "endpoints": ["/email/send"],
}
CUSTOM = {
    "description": "billing app",
    "custom_ratelimit": True,
    "custom_ratelimit_value": 500,
    "custom_ratelimit_period": "2 Days",
    "ip_pool": 3,
    "feedback_enabled": "yes",
    "feedback_html": "<a href='%%UNSUBSCRIBE%%'>unsubscribe</a>",
    "feedback_text": "unsubscribe: %%UNSUBSCRIBE%%",
    "open_tracking_enabled": True,
    "click_tracking_enabled": 1,
    "archive_enabled": True,
    "audit_email": "Audit <audit@example.com>",
    "bounce_notifications": "DROP",
    "status": "sandbox",
    "endpoints": ["/email/*", "api_keys/view"],
}
CUSTOM_RESULT = {
    **DEFAULTS,
    "description": "billing app",
    "custom_rate_limit": True,
    "custom_ratelimit_value": 500,
    "custom_ratelimit_period": "2 days",
    "ippool": 3,
    "feedback_enabled": True,
    "feedback_html": CUSTOM["feedback_html"],
    "feedback_text": CUSTOM["feedback_text"],
    "open_tracking_enabled": True,
    "click_tracking_enabled": True,
    "archive_enabled": True,
    "audit_email": "audit@example.com",
    "bounce_notifications": "drop",
    "status": "sandbox",
    "endpoints": ["/email/*", "/api_keys/view"],
}
SEND = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "subject", "text_body": "x"}
POOLS = "main=127.0.0.2;bulk=127.0.0.3;transactional=127.0.0.4"  # ip_pool ids 1 to 3


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """A server with three dedicated IP pools, so that CUSTOM's `ip_pool: 3` names a configured one."""
    return make_server(ip_pools=POOLS)


@pytest.fixture(autouse=True)
def _no_endpoint_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests add more than 5 keys a minute; test_limits.py tests the limits."""
    monkeypatch.setattr(access, "ENDPOINT_LIMITS", {})


def _add(server: RunningServer, key: str = "default", **fields: Any) -> dict[str, Any]:
    [added] = ok(server.post("api_keys/add", fields, key=key))
    assert isinstance(added, dict)
    return added


def _view(server: RunningServer, key: str = "default", **fields: Any) -> list[dict[str, Any]]:
    data = ok(server.post("api_keys/view", fields, key=key))
    assert isinstance(data, list)
    return data


def _masked(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "api_key": result["username"] + "*" * 20}


def test_add_returns_the_full_key_once_and_it_works(server: RunningServer) -> None:
    added = _add(server)
    key = added.pop("api_key")
    assert FULL_KEY.match(key) and added == {"username": key[:16], **DEFAULTS}
    assert ok(server.post("email/send", SEND, key=key))["succeeded"] == 1
    error(server.post("activity/search", {}, key=key), 403, PERMISSION_DENIED)
    [row] = server.app.state.services.db.read_sync(
        lambda c: [dict(r._mapping) for r in c.execute(select(api_keys).where(api_keys.c.id == key[:16]))]
    )
    assert key not in repr(row) and key[16:] not in repr(row)  # only the hash is stored


def test_add_with_every_setting_uses_the_response_spellings(server: RunningServer) -> None:
    added = _add(server, **CUSTOM)
    assert FULL_KEY.match(added["api_key"])
    assert {**added, "api_key": None} == {**CUSTOM_RESULT, "api_key": None, "username": added["username"]}
    [viewed] = _view(server, id=added["username"])
    assert viewed == _masked(added)


def test_view_masks_every_key_and_lists_only_the_account(server: RunningServer) -> None:
    first = _add(server, description="Shop front")
    _add(server, description="newsletter")
    keys = _view(server)
    assert [k["username"] for k in keys] == [TEST_KEY[:16], first["username"], keys[2]["username"]]
    assert all(MASKED.match(k["api_key"]) and len(k["api_key"]) == 36 for k in keys)
    assert keys[0]["endpoints"] == ["*"] and keys[0]["description"].startswith("bootstrap key")
    assert [k["description"] for k in _view(server, search="SHOP")] == ["Shop front"]
    assert _view(server, search="100%") == []
    # a search longer than any description is a field error (it was a 500: SQLite refuses a LIKE
    # pattern over 50,000 bytes)
    invalid(server.post("api_keys/view", {"search": "%" * 60000}), "search")
    other = server.account_key(["/api_keys/*", "/email/send"])
    assert [k["username"] for k in _view(server, key=other)] == [other[:16]]


@pytest.mark.parametrize("form", ["prefix", "lower", "full", "masked"])
def test_every_id_form_names_the_key(server: RunningServer, form: str) -> None:
    added = _add(server, description="target")
    key = added["api_key"]
    ident = {"prefix": key[:16], "lower": key[:16].lower(), "full": key, "masked": key[:16] + "*" * 20}[form]
    assert _view(server, id=ident)[0]["description"] == "target"
    [edited] = ok(server.patch("api_keys/edit", {"id": ident, "description": "renamed"}))
    assert edited["description"] == "renamed" and edited["api_key"] == key[:16] + "*" * 20
    assert ok(server.post("api_keys/remove", {"id": ident}))[0]["username"] == key[:16]
    assert [k["username"] for k in _view(server)] == [TEST_KEY[:16]]


def test_a_full_key_that_is_wrong_after_its_prefix_is_not_found(server: RunningServer) -> None:
    key = _add(server)["api_key"]
    wrong = key[:-1] + ("0" if key[-1] != "0" else "1")
    error(server.post("api_keys/view", {"id": wrong}), 404)
    error(server.post("api_keys/remove", {"id": wrong}), 404)
    invalid(server.post("api_keys/view", {"id": "api-123"}), "id")
    invalid(server.post("api_keys/remove", {}), "id")


def test_another_accounts_key_is_not_found(server: RunningServer) -> None:
    other = server.account_key(["*"])
    mine = _add(server)["api_key"]
    for r in (
        server.post("api_keys/view", {"id": mine[:16]}, key=other),
        server.post("api_keys/view", {"id": mine}, key=other),
        server.post("api_keys/edit", {"id": mine[:16], "status": "blocked"}, key=other),
        server.patch("api_keys/edit", {"id": mine[:16], "status": "blocked"}, key=other),
        server.post("api_keys/remove", {"id": TEST_KEY}, key=other),
    ):
        data = error(r, 404)
        assert "does not exist" in data["error"]
    assert ok(server.post("email/send", SEND, key=mine))["succeeded"] == 1


def test_post_edit_resets_what_it_is_not_given(server: RunningServer) -> None:
    added = _add(server, **CUSTOM)
    data = ok(server.post("api_keys/edit", {"id": added["username"], "description": "only this"}))
    assert data == [
        {**DEFAULTS, "api_key": added["username"] + "*" * 20, "username": added["username"]}
        | {"description": "only this"}
    ]
    assert _view(server, id=added["username"]) == data


@pytest.mark.parametrize("path", ["api_keys/edit", "api_keys/patch"])
def test_patch_edit_changes_only_what_it_is_given(server: RunningServer, path: str) -> None:
    added = _add(server, **CUSTOM)
    data = ok(server.patch(path, {"id": added["username"], "status": "allowed", "feedback_text": ""}))
    assert data == [{**_masked(added), "status": "allowed"}]
    data = ok(server.patch(path, {"id": added["username"], "custom_ratelimit_period": "1 hour"}))
    assert data[0]["custom_ratelimit_period"] == "1 hour" and data[0]["custom_ratelimit_value"] == 500
    data = ok(server.patch(path, {"id": added["username"], "endpoints": ["/email/send"]}))
    assert data[0]["endpoints"] == ["/email/send"] and data[0]["ippool"] == 3


def test_validation_errors_name_the_field(server: RunningServer) -> None:
    for fields, name in [
        ({"custom_ratelimit_period": "every tuesday"}, "custom_ratelimit_period"),
        ({"custom_ratelimit": True}, "custom_ratelimit_value"),
        ({"custom_ratelimit": True, "custom_ratelimit_value": 5}, "custom_ratelimit_period"),
        ({"custom_ratelimit_value": 0}, "custom_ratelimit_value"),
        ({"bounce_notifications": "somewhere"}, "bounce_notifications"),
        ({"audit_email": "not an address"}, "audit_email"),
        ({"status": "paused"}, "status"),
        ({"ip_pool": "three"}, "ip_pool"),
        ({"open_tracking_enabled": "maybe"}, "open_tracking_enabled"),
        ({"description": "x" * 256}, "description"),
        ({"endpoints": "/email/send"}, "endpoints"),
        ({"endpoints": ["/email/sned"]}, "endpoints"),
        ({"endpoints": ["/api_keys/patch"]}, "endpoints"),
        ({"endpoints": ["/smtp/add"]}, "endpoints"),
    ]:
        invalid(server.post("api_keys/add", fields), name)
    key = _add(server)["username"]
    invalid(server.patch("api_keys/edit", {"id": key, "custom_ratelimit": True}), "custom_ratelimit_value")
    invalid(server.post("api_keys/edit", {"id": key, "endpoints": ["/nope"]}), "endpoints")
    invalid(server.post("api_keys/edit", {"description": "no id"}), "id")
    assert len(_view(server)) == 2


def test_endpoints_are_stored_canonically(server: RunningServer) -> None:
    added = _add(server, endpoints=["email/send", "/email/send", "/template/add", "*"])
    assert added["endpoints"] == ["/email/send", "/template/add", "*"]
    assert _add(server, endpoints=[])["endpoints"] == ["/email/send"]


def test_a_key_may_only_grant_what_it_holds(server: RunningServer) -> None:
    narrow = server.account_key(["/email/*", "/api_keys/*"], same=True)
    assert _add(server, key=narrow, endpoints=["/email/send"])["endpoints"] == ["/email/send"]
    assert _add(server, key=narrow, endpoints=["/email/*", "/api_keys/view"])["endpoints"]
    for endpoints in (["*"], ["/activity/search"], ["/email/send", "/users/smtp/add"], ["/*/view"]):
        data = error(
            server.post("api_keys/add", {"endpoints": endpoints}, key=narrow), 403, PERMISSION_DENIED
        )
        assert "may not grant" in data["error"]
    listed = server.account_key(["/email/send", "/email/mime", "/api_keys/add"], same=True)
    error(server.post("api_keys/add", {"endpoints": ["/email/*"]}, key=listed), 403, PERMISSION_DENIED)
    mine = _add(server, key=narrow, endpoints=["/email/send"])["username"]
    error(server.patch("api_keys/edit", {"id": mine, "endpoints": ["*"]}, key=narrow), 403, PERMISSION_DENIED)
    assert _view(server, id=mine)[0]["endpoints"] == ["/email/send"]


def test_a_narrow_key_cannot_change_a_broader_one(server: RunningServer) -> None:
    narrow = server.account_key(["/email/*", "/api_keys/*"], same=True)
    for r in (
        server.patch("api_keys/edit", {"id": TEST_KEY[:16], "status": "blocked"}, key=narrow),
        server.post("api_keys/edit", {"id": TEST_KEY[:16]}, key=narrow),
        server.post("api_keys/remove", {"id": TEST_KEY[:16]}, key=narrow),
    ):
        error(r, 403, PERMISSION_DENIED)
    assert ok(server.post("email/send", SEND))["succeeded"] == 1
    assert ok(server.post("api_keys/remove", {"id": narrow[:16]}))[0]["username"] == narrow[:16]


def test_a_key_cannot_remove_or_block_itself(server: RunningServer) -> None:
    data = error(
        server.post("api_keys/remove", {"id": TEST_KEY[:16]}),
        400,
        "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD",
    )
    assert "cannot remove itself" in data["error"]
    invalid(server.patch("api_keys/edit", {"id": TEST_KEY, "status": "blocked"}), "status")
    assert ok(server.patch("api_keys/edit", {"id": TEST_KEY, "description": "the operator's key"}))
    assert ok(server.post("email/send", SEND))["succeeded"] == 1


def test_removed_and_blocked_keys_are_refused_at_once(server: RunningServer) -> None:
    blocked, removed = _add(server)["api_key"], _add(server)["api_key"]
    for key in (blocked, removed):
        assert ok(server.post("email/send", SEND, key=key))["succeeded"] == 1  # now cached
    ok(server.patch("api_keys/edit", {"id": blocked[:16], "status": "blocked"}))
    ok(server.post("api_keys/remove", {"id": removed}))
    for key in (blocked, removed):
        r = server.post("email/send", SEND, key=key)
        assert r.status_code == 401 and r.json()["data"]["error_code"] == "E_ApiResponseCodes.API_EXCEPTION"
    ok(server.patch("api_keys/edit", {"id": blocked[:16], "status": "allowed"}))
    assert ok(server.post("email/send", SEND, key=blocked))["succeeded"] == 1
    error(server.post("api_keys/view", {"id": removed}), 404)


def test_permission_changes_apply_at_once(server: RunningServer) -> None:
    key = _add(server, endpoints=["/email/send", "/activity/search"])["api_key"]
    ok(server.post("activity/search", {}, key=key))
    ok(server.patch("api_keys/edit", {"id": key, "endpoints": ["/email/send"]}))
    error(server.post("activity/search", {}, key=key), 403, PERMISSION_DENIED)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("api_keys/add", "POST"),
        ("api_keys/edit", "POST"),
        ("api_keys/edit", "PATCH"),
        ("api_keys/patch", "PATCH"),
        ("api_keys/view", "POST"),
        ("api_keys/remove", "POST"),
    ],
)
def test_a_key_without_the_permission_is_refused(server: RunningServer, path: str, method: str) -> None:
    key = server.account_key(["/email/send"], same=True)
    body = {"id": TEST_KEY[:16]}
    r = server.post(path, body, key=key) if method == "POST" else server.patch(path, body, key=key)
    error(r, 403, PERMISSION_DENIED)
    assert len(_view(server)) == 2


def test_permissions_is_open_to_every_key(server: RunningServer) -> None:
    send_only = server.account_key(["/email/send"])
    assert ok(server.post("api_keys/permissions", {}, key=send_only)) == [
        "/api_keys/permissions",
        "/email/send",
    ]
    email = server.account_key(["/email/*", "/archive/search"])
    listed = ok(server.post("api_keys/permissions", {}, key=email))
    assert "/email/send" in listed and "/email/batch" in listed and "/archive/search" not in listed
    assert listed == sorted(listed) and all(
        p.startswith(("/email/", "/api_keys/permissions")) for p in listed
    )
    everything = ok(server.post("api_keys/permissions", {}))
    served = server.app.state.registry.catalog().served
    assert everything == sorted(served) and "/api_keys/add" in everything
    assert "/api_keys/patch" not in everything and "/smtp/add" not in everything
    with server.client() as c:  # WP Mail SMTP's preflight: `{}` with the key in a header
        r = c.post("/v3/api_keys/permissions", json={}, headers={"X-Smtp2go-Api-Key": send_only})
    assert ok(r) == ["/api_keys/permissions", "/email/send"]


def test_sandbox_status_reaches_the_principal(server: RunningServer) -> None:
    key = _add(server, status="sandbox")["api_key"]
    services = server.app.state.services
    row = services.db.read_sync(lambda c: c.execute(select(api_keys).where(api_keys.c.id == key[:16])).one())
    assert row.status == "sandbox"
    from postroom.features.api_keys.service import _principal_of

    principal = _principal_of({**row._mapping, "account_name": "x"})
    assert principal is not None and principal.sandbox and principal.ratelimit is None
