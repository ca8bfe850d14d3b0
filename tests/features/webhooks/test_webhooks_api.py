"""/webhook/*: add, view, edit, remove with SMTP2GO's shapes, validation, the SSRF policy and the limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import RunningServer
from envelope_checks import error, invalid, ok

HOOK = {"url": "http://127.0.0.1:9/hook", "events": ["delivered", "bounce"]}


def _add(server: RunningServer, **fields: Any) -> dict[str, Any]:
    data = ok(server.post("webhook/add", {**HOOK, **fields}))
    assert isinstance(data, dict)
    return data


def test_add_view_edit_remove(server: RunningServer) -> None:
    added = _add(server, headers="X-Campaign", usernames=["api-0123456789AB"], output_format="json")
    assert isinstance(added["id"], int) and len(added["secret"]) == 64
    assert added["events"] == ["delivered", "bounce"] and added["headers"] == ["X-Campaign"]
    assert added["usernames"] == ["api-0123456789AB"] and added["output_format"] == "json"
    assert added["auth_header_type"] == "" and added["disabled"] is False
    [viewed] = ok(server.post("webhook/view", {}))
    assert viewed["id"] == added["id"] and "secret" not in viewed  # shown by add and edit only
    edited = ok(
        server.post(
            "webhook/edit",
            {
                "webhook_id": added["id"],
                "url": "https://example.com/h",
                "events": ["open"],
                "auth_header_type": "bearer",
                "auth_header_value": "t0ken",
            },
        )
    )
    assert edited["url"] == "https://example.com/h" and edited["events"] == ["open"]
    assert edited["output_format"] == "form" and edited["headers"] == []  # POST edit resets what is not given
    assert edited["secret"] == added["secret"]  # kept unless rotated
    rotated = ok(
        server.post(
            "webhook/edit", {"id": added["id"], "url": "https://example.com/h", "rotate_secret": True}
        )
    )
    assert rotated["secret"] != added["secret"] and len(rotated["secret"]) == 64
    removed = ok(server.post("webhook/remove", {"id": added["id"]}))
    assert removed["id"] == added["id"]
    assert ok(server.post("webhook/view", {})) == []
    error(server.post("webhook/remove", {"id": added["id"]}), 404)
    error(server.post("webhook/edit", {"id": added["id"], "url": "http://127.0.0.1/"}), 404)


def test_bad_input_is_a_field_error(server: RunningServer) -> None:
    invalid(server.post("webhook/add", {"events": ["delivered"]}), "url")
    for url in [
        "ftp://example.com/",
        "not a url",
        "http://",
        "http://exa mple.com/",
        "javascript:alert(1)",
        "http://example.com:99999/",
        "http://" + "a" * 3000 + ".com/",
    ]:
        invalid(server.post("webhook/add", {"url": url}), "url")
    invalid(server.post("webhook/add", {**HOOK, "events": ["delivered", "exploded"]}), "events")
    invalid(server.post("webhook/add", {**HOOK, "sms_events": ["teleported"]}), "sms_events")
    invalid(server.post("webhook/add", {**HOOK, "output_format": "xml"}), "output_format")
    invalid(server.post("webhook/add", {**HOOK, "auth_header_type": "digest"}), "auth_header_type")
    invalid(
        server.post("webhook/add", {**HOOK, "auth_header_type": "bearer", "auth_header_value": "a\r\nX: y"}),
        "auth_header_value",
    )
    invalid(server.post("webhook/add", {**HOOK, "headers": ["Bad: header"]}), "headers")
    invalid(server.post("webhook/add", {**HOOK, "events": "delivered"}), "events")
    invalid(server.post("webhook/edit", {"id": "seven", "url": HOOK["url"]}), "id")
    invalid(server.post("webhook/remove", {}), "id")
    assert ok(server.post("webhook/view", {})) == []  # nothing half-stored


def test_private_targets_are_refused_outside_capture_mode(make_server: Callable[..., RunningServer]) -> None:
    strict = make_server(webhook_allow_private="false")
    for url in [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
    ]:
        data = error(
            strict.post("webhook/add", {"url": url}), 400, "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"
        )
        assert data["field_validation_errors"]["fieldname"] == "url", url
    assert (
        ok(strict.post("webhook/add", {"url": "https://93.184.215.14/hook"}))["url"]
        == "https://93.184.215.14/hook"
    )


def test_the_number_of_webhooks_is_limited(make_server: Callable[..., RunningServer]) -> None:
    small = make_server(max_webhooks=2)
    _add(small)
    _add(small)
    error(small.post("webhook/add", HOOK), 402)
    assert len(ok(small.post("webhook/view", {}))) == 2


def test_another_accounts_webhook_is_not_found(server: RunningServer) -> None:
    mine = _add(server)
    other = server.account_key()
    error(server.post("webhook/view", {"id": mine["id"]}, key=other), 404)
    error(server.post("webhook/edit", {"id": mine["id"], "url": HOOK["url"]}, key=other), 404)
    error(server.post("webhook/remove", {"id": mine["id"]}, key=other), 404)
    assert ok(server.post("webhook/view", {}, key=other)) == []
    assert len(ok(server.post("webhook/view", {}))) == 1
