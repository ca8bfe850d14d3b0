"""/v3/allowed_senders/* and /v3/allowed_recipients/*, end to end through a real server."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import RunningServer
from envelope_checks import error as _error
from envelope_checks import invalid as _invalid
from envelope_checks import ok as _ok

PERMISSION_DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"


def _senders(
    server: RunningServer, action: str, body: dict[str, Any] | None = None, key: str = "default"
) -> Any:
    return _ok(server.post(f"allowed_senders/{action}", body or {}, key=key))


def _recipients(
    server: RunningServer, action: str, body: dict[str, Any] | None = None, key: str = "default"
) -> Any:
    return _ok(server.post(f"allowed_recipients/{action}", body or {}, key=key))


def test_a_new_account_has_both_lists_off(server: RunningServer) -> None:
    assert _senders(server, "view") == {"allowed_senders": [], "mode": "disabled"}
    assert _recipients(server, "view") == {"allowed_recipients": [], "enabled": False}


def test_senders_add_remove_update_view(server: RunningServer) -> None:
    added = _senders(server, "add", {"allowed_senders": ["Ann@Example.com", "example.org"]})
    assert added == {"allowed_senders": ["ann@example.com", "example.org"], "mode": "disabled"}
    again = _senders(server, "add", {"allowed_senders": ["EXAMPLE.org", "bücher.example"]})
    assert again["allowed_senders"] == ["ann@example.com", "example.org", "xn--bcher-kva.example"]
    removed = _senders(server, "remove", {"allowed_senders": ["ann@example.com", "not@listed.example"]})
    assert removed == {"allowed_senders": ["example.org", "xn--bcher-kva.example"], "mode": "disabled"}
    updated = _senders(server, "update", {"allowed_senders": ["a@b.example"], "mode": "whitelist"})
    assert updated == {"allowed_senders": ["a@b.example"], "mode": "whitelist"}
    assert _senders(server, "add", {"allowed_senders": ["c.example"]})["mode"] == "whitelist"  # kept
    assert _senders(server, "view") == {"allowed_senders": ["a@b.example", "c.example"], "mode": "whitelist"}
    emptied = _senders(server, "update", {"allowed_senders": [], "mode": "blacklist"})
    assert emptied == {"allowed_senders": [], "mode": "blacklist"}


def test_recipients_add_remove_update_view(server: RunningServer) -> None:
    added = _recipients(server, "add", {"allowed_recipients": ["Team@Example.com"]})
    assert added == {"allowed_recipients": ["team@example.com"], "enabled": False}
    added = _recipients(server, "add", {"allowed_recipients": ["partner.example"], "enabled": "yes"})
    assert added == {"allowed_recipients": ["team@example.com", "partner.example"], "enabled": True}
    removed = _recipients(server, "remove", {"allowed_recipients": ["team@example.com", "gone.example"]})
    assert removed == {"allowed_recipients": ["partner.example"], "enabled": True}
    updated = _recipients(server, "update", {"allowed_recipients": ["x@y.example"], "enabled": False})
    assert updated == {"allowed_recipients": ["x@y.example"], "enabled": False}
    assert _recipients(server, "view") == updated
    emptied = _recipients(server, "update", {"allowed_recipients": [], "enabled": True})
    assert emptied == {"allowed_recipients": [], "enabled": True}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("allowed_senders/add", {}, "allowed_senders"),
        ("allowed_senders/add", {"allowed_senders": "a@b.example"}, "allowed_senders"),
        ("allowed_senders/add", {"allowed_senders": [1]}, "allowed_senders[0]"),
        ("allowed_senders/add", {"allowed_senders": ["ok.example", "not a domain"]}, "allowed_senders"),
        ("allowed_senders/add", {"allowed_senders": ["a@@b.example"]}, "allowed_senders"),
        ("allowed_senders/add", {"allowed_senders": ["*.example.com"]}, "allowed_senders"),
        ("allowed_senders/remove", {"allowed_senders": ["bad entry"]}, "allowed_senders"),
        ("allowed_senders/update", {"allowed_senders": ["a.example"]}, "mode"),
        ("allowed_senders/update", {"allowed_senders": ["a.example"], "mode": "sometimes"}, "mode"),
        ("allowed_senders/update", {"mode": "whitelist"}, "allowed_senders"),
        ("allowed_senders/update", {"allowed_senders": None, "mode": "whitelist"}, "allowed_senders"),
        ("allowed_recipients/add", {"allowed_recipients": ["x"]}, "allowed_recipients"),
        ("allowed_recipients/add", {"allowed_recipients": ["a.example"], "enabled": "maybe"}, "enabled"),
        ("allowed_recipients/update", {"allowed_recipients": ["a.example"]}, "enabled"),
        ("allowed_recipients/update", {"enabled": True}, "allowed_recipients"),
        ("allowed_recipients/remove", {}, "allowed_recipients"),
    ],
)
def test_validation_errors(server: RunningServer, path: str, body: dict[str, Any], field: str) -> None:
    _invalid(server.post(path, body), field)


def test_a_bad_entry_changes_nothing(server: RunningServer) -> None:
    _senders(server, "update", {"allowed_senders": ["keep.example"], "mode": "whitelist"})
    _invalid(
        server.post(
            "allowed_senders/update", {"allowed_senders": ["x.example", "bad entry"], "mode": "blacklist"}
        ),
        "allowed_senders",
    )
    assert _senders(server, "view") == {"allowed_senders": ["keep.example"], "mode": "whitelist"}


def test_a_key_without_these_endpoints_is_refused(server: RunningServer) -> None:
    key = server.account_key(["/email/send"], same=True)
    for path in ("allowed_senders/view", "allowed_senders/add", "allowed_recipients/update"):
        _error(server.post(path, {"allowed_senders": ["a.example"]}, key=key), 403, PERMISSION_DENIED)
    granted = server.account_key(["/allowed_senders/*"], same=True)
    assert _senders(server, "view", key=granted)["mode"] == "disabled"
    _error(server.post("allowed_recipients/view", {}, key=granted), 403, PERMISSION_DENIED)


def test_each_account_has_its_own_lists(server: RunningServer) -> None:
    other = server.account_key()
    _senders(server, "update", {"allowed_senders": ["master.example"], "mode": "whitelist"})
    _recipients(server, "update", {"allowed_recipients": ["master.example"], "enabled": True})
    assert _senders(server, "view", key=other) == {"allowed_senders": [], "mode": "disabled"}
    assert _recipients(server, "view", key=other) == {"allowed_recipients": [], "enabled": False}
    _senders(server, "add", {"allowed_senders": ["other.example"]}, key=other)
    _senders(server, "remove", {"allowed_senders": ["master.example"]}, key=other)  # not theirs: no effect
    assert _senders(server, "view")["allowed_senders"] == ["master.example"]
    assert _senders(server, "view", key=other)["allowed_senders"] == ["other.example"]
