"""POSTROOM_SYSTEM_FROM takes a display name as every mailer's From setting does (`Name <addr>`):
Postroom's own mail carries it in From, and the envelope sender is the bare address."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningServer
from envelope_checks import ok
from postroom.errors import ConfigError
from postroom.settings import load_settings


def _captured_to(server: RunningServer, address: str) -> list[dict[str, Any]]:
    with server.client(headers={"X-Smtp2go-Api-Key": server.key}) as c:
        listed = c.get("/api/v1/messages", params={"to": address}).json()["messages"]
        return [c.get(f"/api/v1/messages/{m['email_id']}").json() for m in listed]


def _raw_head(server: RunningServer, email_id: str) -> bytes:
    with server.client(headers={"X-Smtp2go-Api-Key": server.key}) as c:
        raw = c.get(f"/api/v1/messages/{email_id}/raw")
    assert raw.status_code == 200, raw.text
    return raw.content.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ("Postroom <noreply@example.com>", "Postroom"),
        ('"Example, Inc." <noreply@example.com>', "Example, Inc."),
        ("Bücherei <noreply@example.com>", "Bücherei"),
        ("noreply@example.com", "Postroom"),
    ],
)
def test_the_system_from_setting_with_a_display_name(make_server: Any, setting: str, name: str) -> None:
    server: RunningServer = make_server(system_from=setting)
    ok(server.post("single_sender_emails/add", {"email_address": "owner@pending.example"}))
    ok(server.post("subaccount/add", {"fullname": "Team", "subaccount_email": "lead@team.example"}))
    for address in ("owner@pending.example", "lead@team.example"):
        [mail] = _captured_to(server, address)
        assert mail["envelope"]["mail_from"] == "noreply@example.com"
        head = _raw_head(server, mail["email_id"])
        if name == "Postroom":
            assert b"\r\nFrom: Postroom <noreply@example.com>\r\n" in b"\r\n" + head + b"\r\n"
        parsed = message_from_bytes(head + b"\r\n\r\n", policy=policy.default)
        [sender] = parsed["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (name, "noreply@example.com")
        assert parsed["Message-ID"].endswith("@example.com>")


def test_unusable_system_from_settings_are_refused_at_start(tmp_path: Path) -> None:
    for value in ("nobody", "Name <nobody>", "a@b@c", "Postroom <noreply@example.com", "x\x00@example.com"):
        with pytest.raises(ConfigError, match="system_from"):
            load_settings(env={"POSTROOM_SYSTEM_FROM": value}, toml_path=tmp_path / "x.toml")
    named = {"POSTROOM_SYSTEM_FROM": "Postroom <noreply@example.com>"}
    s = load_settings(env=named, toml_path=tmp_path / "x.toml")
    assert s.system_sender == "Postroom <noreply@example.com>"
