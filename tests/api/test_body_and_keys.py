"""Request bodies that are too deep, and key checks that a trailing newline or letter case could fool."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import RunningServer
from postroom.bodies import MAX_DEPTH, drop_absent
from postroom.errors import ConfigError, InvalidInput
from postroom.settings import load_settings

SEND = {"sender": "a@example.com", "to": ["b@example.com"], "subject": "s", "text_body": "t"}
NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 5000, 100_000])
def test_deeply_nested_bodies_are_400_before_and_after_auth(server: RunningServer, depth: int) -> None:
    nested = '{"x":' * depth + "1" + "}" * depth
    with server.client() as c:
        for path in ("/v3/email/send", "/v3/activity/search"):
            anonymous = c.post(path, content=f'{{"deep": {nested}}}')
            keyed = c.post(
                path, content=f'{{"template_data": {nested}}}', headers={"X-Smtp2go-Api-Key": server.key}
            )
            for r in (anonymous, keyed):
                assert r.status_code in (400, 401), r.text
                data = r.json()["data"]
                if r.status_code == 400:
                    assert data["error_code"] == NON_VALIDATING
                    assert data["field_validation_errors"]["fieldname"] == "body"
            assert keyed.status_code == 400


def test_drop_absent_is_depth_limited() -> None:
    value: object = 1
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    assert drop_absent({"a": value, "b": None}) == {"a": value}
    with pytest.raises(InvalidInput):
        drop_absent({"a": [value]})


def test_a_key_with_a_trailing_newline_is_malformed(server: RunningServer) -> None:
    r = server.post("email/send", SEND, key=server.key + "\n")
    assert r.status_code == 401 and r.json()["data"]["error_code"] == "E_ApiResponseCodes.INVALID_IN_PAYLOAD"


def test_keys_given_twice_compare_without_case(server: RunningServer) -> None:
    lower = "api-" + server.key[4:].lower()
    r = server.post("email/send", SEND, key=lower, headers={"Authorization": f"Bearer {server.key}"})
    assert r.status_code == 200, r.text
    other = server.key[:-1] + ("0" if server.key[-1] != "0" else "1")
    r = server.post("email/send", SEND, key=other, headers={"Authorization": f"Bearer {server.key}"})
    assert r.status_code == 401


def test_settings_refuse_a_key_with_a_trailing_newline(tmp_path: Path) -> None:
    key = "api-0123456789ABCDEF0123456789ABCDEF"
    assert load_settings(env={"POSTROOM_API_KEY": key}, toml_path=tmp_path / "none.toml").api_key == key
    with pytest.raises(ConfigError):
        load_settings(env={"POSTROOM_API_KEY": key + "\n"}, toml_path=tmp_path / "none.toml")
