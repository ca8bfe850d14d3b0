"""/v3/users/smtp/* and the seed's /smtp/* aliases, end to end through a real server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from conftest import RunningServer
from envelope_checks import error as _error
from envelope_checks import invalid as _invalid
from envelope_checks import ok as _ok
from postroom.storage.tables import smtp_users

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
API_EXCEPTION = "E_ApiResponseCodes.API_EXCEPTION"
PASSWORD = "s3cret-password"
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
    "description": "billing app",
    "custom_ratelimit": True,
    "custom_ratelimit_value": 500,
    "custom_ratelimit_period": "2 Days",
    "ip_pool": 3,
    "feedback_enabled": True,
    "feedback_domain": "Example.COM",
    "feedback_html": "<a href='%%UNSUBSCRIBE%%'>unsubscribe</a>",
    "feedback_text": "unsubscribe: %%UNSUBSCRIBE%%",
    "open_tracking_enabled": True,
    "click_tracking_enabled": True,
    "archive_enabled": True,
    "audit_email": "Audit <audit@example.com>",
    "bounce_notifications": "DROP",
    "status": "sandbox",
}
CUSTOM_RESULT = {
    **DEFAULTS,
    **{k: v for k, v in CUSTOM.items() if k != "ip_pool"},
    "custom_ratelimit_period": "2 days",
    "feedback_domain": "example.com",
    "audit_email": "audit@example.com",
    "bounce_notifications": "drop",
}
POOLS = "main=127.0.0.2;bulk=127.0.0.3;transactional=127.0.0.4"  # ip_pool ids 1 to 3


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """A server with three dedicated IP pools, so that CUSTOM's `ip_pool: 3` names a configured one."""
    return make_server(ip_pools=POOLS)


def _add(server: RunningServer, username: str = "mailer1", **fields: Any) -> dict[str, Any]:
    data = _ok(server.post("users/smtp/add", {"username": username, **fields}))
    user: dict[str, Any] = data["results"][0]
    return user


def _view(server: RunningServer, key: str = "default", **fields: Any) -> list[dict[str, Any]]:
    data = _ok(server.post("users/smtp/view", fields, key=key))
    users: list[dict[str, Any]] = data["results"]
    return users


def _rows(server: RunningServer) -> list[dict[str, Any]]:
    db = server.app.state.services.db
    rows = db.read_sync(lambda c: c.execute(select(smtp_users).order_by(smtp_users.c.username)).all())
    return [dict(r._mapping) for r in rows]


def test_add_shows_a_generated_password_once_and_view_masks_it(server: RunningServer) -> None:
    data = _ok(server.post("users/smtp/add", {"username": "mailer1"}))
    assert data["default_ratelimit_value"] is None and data["default_ratelimit_period"] == "unlimited"
    [user] = data["results"]
    password = user.pop("email_password")
    assert isinstance(password, str) and len(password) >= 22  # 128 random bits, URL-safe base 64
    assert user == {"username": "mailer1", **DEFAULTS}
    [viewed] = _view(server)
    assert viewed["email_password"] == "********"
    assert {k: v for k, v in viewed.items() if k != "email_password"} == user
    [row] = _rows(server)
    assert row["password_hash"].startswith("$argon2id$") and PasswordHasher().verify(
        row["password_hash"], password
    )
    assert password not in repr(row)


def test_add_with_every_setting_and_a_given_password(server: RunningServer) -> None:
    user = _add(server, "app.billing+eu@example-corp.com", email_password=PASSWORD, **CUSTOM)
    assert user == {
        "username": "app.billing+eu@example-corp.com",
        "email_password": PASSWORD,
        **CUSTOM_RESULT,
    }
    [row] = _rows(server)
    assert PASSWORD not in repr(row) and PasswordHasher().verify(row["password_hash"], PASSWORD)
    assert row["settings"]["custom_ratelimit_seconds"] == 2 * 86400 and row["settings"]["ip_pool"] == 3


def test_booleans_accept_words_and_numbers(server: RunningServer) -> None:
    user = _add(server, archive_enabled="yes", open_tracking_enabled="on", click_tracking_enabled=1)
    assert user["archive_enabled"] and user["open_tracking_enabled"] and user["click_tracking_enabled"]
    assert _add(server, "mailer2", archive_enabled="off", feedback_enabled="0")["archive_enabled"] is False


def test_a_taken_username_is_402(server: RunningServer) -> None:
    _add(server)
    data = _error(server.post("users/smtp/add", {"username": "mailer1"}), 402)
    assert "already exists" in data["error"]
    _error(server.post("users/smtp/add", {"username": "mailer1"}, key=server.account_key()), 402)


def test_post_edit_resets_what_it_is_not_given(server: RunningServer) -> None:
    _add(server, email_password=PASSWORD, **CUSTOM)
    hash_before = _rows(server)[0]["password_hash"]
    data = _ok(server.post("users/smtp/edit", {"username": "mailer1", "description": "only this"}))
    assert data["default_ratelimit_period"] == "unlimited"
    assert data["results"] == [
        {"username": "mailer1", "email_password": "********", **DEFAULTS, "description": "only this"}
    ]
    [row] = _rows(server)
    assert row["password_hash"] == hash_before and row["settings"]["ip_pool"] is None
    assert _view(server) == data["results"]


def test_patch_edit_changes_only_what_it_is_given(server: RunningServer) -> None:
    _add(server, email_password=PASSWORD, **CUSTOM)
    hash_before = _rows(server)[0]["password_hash"]
    data = _ok(
        server.patch("users/smtp/edit", {"username": "mailer1", "status": "blocked", "feedback_text": ""})
    )
    expected = {**CUSTOM_RESULT, "username": "mailer1", "email_password": "********"}
    assert data == [{**expected, "status": "blocked", "sending_allowed": False}]  # PATCH answers a list
    [row] = _rows(server)
    assert row["password_hash"] == hash_before and row["settings"]["ip_pool"] == 3
    data = _ok(server.patch("users/smtp/edit", {"username": "mailer1", "custom_ratelimit_period": "1 hour"}))
    assert data[0]["custom_ratelimit_period"] == "1 hour" and data[0]["custom_ratelimit_value"] == 500
    assert data[0]["status"] == "blocked"


def test_an_edit_changes_the_password_only_when_given(server: RunningServer) -> None:
    _add(server, email_password=PASSWORD)
    _ok(server.post("users/smtp/edit", {"username": "mailer1", "email_password": "brand-new-password"}))
    assert PasswordHasher().verify(_rows(server)[0]["password_hash"], "brand-new-password")
    data = _ok(server.patch("users/smtp/edit", {"username": "mailer1", "email_password": "patched-password"}))
    assert data[0]["email_password"] == "********"
    assert PasswordHasher().verify(_rows(server)[0]["password_hash"], "patched-password")


def test_a_patch_is_validated_against_the_stored_settings(server: RunningServer) -> None:
    _add(server)
    _invalid(
        server.patch("users/smtp/edit", {"username": "mailer1", "custom_ratelimit": True}),
        "custom_ratelimit_value",
    )
    _ok(server.patch("users/smtp/edit", {"username": "mailer1", "custom_ratelimit_value": 10}))
    _invalid(
        server.patch("users/smtp/edit", {"username": "mailer1", "custom_ratelimit": True}),
        "custom_ratelimit_period",
    )
    body = {"username": "mailer1", "custom_ratelimit": "true", "custom_ratelimit_period": "0:30:00"}
    assert _ok(server.patch("users/smtp/edit", body))[0]["custom_ratelimit"] is True


def test_remove_then_view(server: RunningServer) -> None:
    _add(server)
    _add(server, "mailer2")
    assert [u["username"] for u in _view(server)] == ["mailer1", "mailer2"]
    assert [u["username"] for u in _view(server, username="mailer2")] == ["mailer2"]
    assert _view(server, username="nobody") == []
    data = _ok(server.post("users/smtp/remove", {"username": "mailer1"}))
    assert data["results"][0]["username"] == "mailer1" and data["results"][0]["email_password"] == "********"
    assert [u["username"] for u in _view(server)] == ["mailer2"]
    assert [r["username"] for r in _rows(server)] == ["mailer2"]


def test_unknown_usernames_are_404(server: RunningServer) -> None:
    for r in (
        server.post("users/smtp/edit", {"username": "nobody"}),
        server.patch("users/smtp/edit", {"username": "nobody", "status": "blocked"}),
        server.post("users/smtp/remove", {"username": "nobody"}),
    ):
        assert "nobody" in _error(r, 404)["error"]


def test_every_alias_behaves_like_its_canonical_path(server: RunningServer) -> None:
    assert _ok(server.post("smtp/add", {"username": "mailer1"}))["results"][0]["email_password"] != "********"
    data = _ok(server.post("smtp/edit", {"username": "mailer1", "description": "a"}))
    assert data["results"][0]["description"] == "a"
    assert (
        _ok(server.patch("smtp/edit", {"username": "mailer1", "status": "blocked"}))[0]["description"] == "a"
    )
    assert (
        _ok(server.patch("smtp/patch", {"username": "mailer1", "archive_enabled": True}))[0]["status"]
        == "blocked"
    )
    [user] = _ok(server.post("smtp/view", {}))["results"]
    assert (user["description"], user["status"], user["archive_enabled"]) == ("a", "blocked", True)
    _ok(server.post("smtp/remove", {"username": "mailer1"}))
    assert _ok(server.post("smtp/view", {}))["results"] == []


def test_methods(server: RunningServer) -> None:
    _error(server.patch("users/smtp/add", {"username": "mailer1"}), 405)
    with server.client() as c:
        _error(c.get("/v3/users/smtp/view"), 405)


def test_an_alias_is_allowed_exactly_when_its_canonical_path_is(server: RunningServer) -> None:
    key = server.account_key(["/users/smtp/view", "/users/smtp/edit"], same=True)
    _add(server)
    assert len(_ok(server.post("smtp/view", {}, key=key))["results"]) == 1
    _ok(server.patch("smtp/patch", {"username": "mailer1", "description": "x"}, key=key))
    for path in ("smtp/add", "users/smtp/add", "smtp/remove"):
        _error(
            server.post(path, {"username": "mailer2"}, key=key),
            403,
            "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED",
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "abcd"}, "username"),
        ({"username": "x" * 101}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "semi;colon"}, "username"),
        ({"username": "mailer1\n"}, "username"),
        ({"username": 12345}, "username"),
        ({"username": None, "description": "no username"}, "username"),
        ({"email_password": "short"}, "email_password"),
        ({"status": "paused"}, "status"),
        ({"custom_ratelimit_period": "2 fortnights"}, "custom_ratelimit_period"),
        ({"custom_ratelimit_period": "0:75:00"}, "custom_ratelimit_period"),
        ({"custom_ratelimit": True, "custom_ratelimit_period": "1 hour"}, "custom_ratelimit_value"),
        ({"custom_ratelimit": True, "custom_ratelimit_value": 5}, "custom_ratelimit_period"),
        ({"custom_ratelimit_value": 0}, "custom_ratelimit_value"),
        ({"custom_ratelimit_value": "many"}, "custom_ratelimit_value"),
        ({"custom_ratelimit": "maybe"}, "custom_ratelimit"),
        ({"archive_enabled": [True]}, "archive_enabled"),
        ({"ip_pool": "pool-a"}, "ip_pool"),
        ({"description": {"a": 1}}, "description"),
        ({"audit_email": "not an address"}, "audit_email"),
        ({"audit_email": "a@b@c"}, "audit_email"),
        ({"bounce_notifications": "sometimes"}, "bounce_notifications"),
        ({"feedback_domain": "not a domain"}, "feedback_domain"),
    ],
)
def test_field_validation_errors_name_the_field(
    server: RunningServer, fields: dict[str, Any], field: str
) -> None:
    body = {"username": "mailer1", **fields}
    _invalid(server.post("users/smtp/add", body), field)
    assert _rows(server) == []


def test_edit_validation_errors_name_the_field(server: RunningServer) -> None:
    _add(server)
    _invalid(server.post("users/smtp/edit", {"username": "mailer1", "status": "on"}), "status")
    _invalid(server.patch("users/smtp/edit", {"username": "mailer1", "audit_email": "nope"}), "audit_email")
    _invalid(server.patch("users/smtp/edit", {"status": "blocked"}), "username")
    _invalid(server.post("users/smtp/remove", {}), "username")
    assert _view(server)[0]["status"] == "allowed"


def test_an_account_sees_and_changes_only_its_own_users(server: RunningServer) -> None:
    _add(server, email_password=PASSWORD)
    other = server.account_key()
    assert _view(server, key=other) == []
    assert _view(server, key=other, username="mailer1") == []
    _error(server.post("users/smtp/edit", {"username": "mailer1", "status": "blocked"}, key=other), 404)
    _error(server.patch("users/smtp/edit", {"username": "mailer1", "status": "blocked"}, key=other), 404)
    _error(server.post("users/smtp/remove", {"username": "mailer1"}, key=other), 404)
    assert _view(server)[0]["status"] == "allowed"
    _ok(server.post("users/smtp/add", {"username": "mailer2"}, key=other))
    assert [u["username"] for u in _view(server)] == ["mailer1"]
    assert [u["username"] for u in _view(server, key=other)] == ["mailer2"]
