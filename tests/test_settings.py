"""Settings: defaults ← postroom.toml ← POSTROOM_* env ← flags, validated once with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from postroom.errors import ConfigError
from postroom.settings import load_settings, settings_table


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env={}, toml_path=tmp_path / "missing.toml")
    assert (s.http_host, s.http_port, s.delivery_mode) == ("127.0.0.1", 8080, "capture")
    assert s.base_url == "http://127.0.0.1:8080/v3/"
    assert s.resolved_database_url.endswith("postroom-data/postroom.sqlite3")


def test_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "postroom.toml"
    toml.write_text('http_port = 9000\nhttp_host = "0.0.0.0"\nworkers = "off"\n')
    s = load_settings(env={"POSTROOM_HTTP_PORT": "9100"}, toml_path=toml)
    assert (s.http_host, s.http_port, s.workers) == ("0.0.0.0", 9100, False)
    s = load_settings(flags={"http_port": 9200}, env={"POSTROOM_HTTP_PORT": "9100"}, toml_path=toml)
    assert s.http_port == 9200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"POSTROOM_HTTP_PORT": "eighty"}, "http_port"),
        ({"POSTROOM_HTTP_PORT": "70000"}, "http_port"),
        ({"POSTROOM_DELIVERY_MODE": "carrier-pigeon"}, "delivery_mode"),
        ({"POSTROOM_API_KEY": "api-short"}, "api_key"),
        ({"POSTROOM_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"POSTROOM_WORKERS": "perhaps"}, "workers"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env=env, toml_path=tmp_path / "missing.toml")


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "postroom.toml"
    toml.write_text("htp_port = 1\n")
    with pytest.raises(ConfigError, match="htp_port"):
        load_settings(env={}, toml_path=toml)


def test_every_setting_is_described() -> None:
    assert all(description for _, _, description in settings_table())
