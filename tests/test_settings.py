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


def test_ip_pools_parse_in_order_with_ids_from_one(tmp_path: Path) -> None:
    s = load_settings(
        env={"POSTROOM_IP_POOLS": "main=127.0.0.2, 127.0.0.3; bulk=::1"}, toml_path=tmp_path / "x.toml"
    )
    assert [(p.id, p.name, p.addresses) for p in s.pools] == [
        (1, "main", ("127.0.0.2", "127.0.0.3")),
        (2, "bulk", ("::1",)),
    ]
    assert load_settings(env={}, toml_path=tmp_path / "x.toml").pools == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("main", "not name=address"),
        ("main=10.0.0.300", "not an IP address"),
        ("main=", "has no addresses"),
        ("a=127.0.0.2;a=127.0.0.3", "given twice"),
    ],
)
def test_bad_ip_pools_are_named(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env={"POSTROOM_IP_POOLS": value}, toml_path=tmp_path / "x.toml")


def test_system_mail_defaults_follow_hostname_and_listener(tmp_path: Path) -> None:
    s = load_settings(
        env={"POSTROOM_HOSTNAME": "mail.example.org", "POSTROOM_HTTP_PORT": "9000"},
        toml_path=tmp_path / "x.toml",
    )
    assert (s.system_sender, s.public_base) == ("postroom@mail.example.org", "http://127.0.0.1:9000")
    s = load_settings(
        env={
            "POSTROOM_SYSTEM_FROM": "noreply@example.org",
            "POSTROOM_PUBLIC_URL": "https://mail.example.org/",
        },
        toml_path=tmp_path / "x.toml",
    )
    assert (s.system_sender, s.public_base) == ("noreply@example.org", "https://mail.example.org")
    for env in ({"POSTROOM_PUBLIC_URL": "mail.example.org"}, {"POSTROOM_SYSTEM_FROM": "nobody"}):
        with pytest.raises(ConfigError):
            load_settings(env=env, toml_path=tmp_path / "x.toml")
