"""The operator's commands, run as a user runs them: serve, migrate, keys create."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from conftest import free_port
from postroom.cli.main import main

KEY_LINE = re.compile(r"API key \(shown once, keep it\): (api-[0-9A-F]{32})")


def _serve(data_dir: Path, env: dict[str, str] | None = None, *extra: str) -> tuple[str, int]:
    """Start `postroom serve`, wait until healthy, stop it; returns (its output, port)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postroom",
            "serve",
            "--data-dir",
            str(data_dir),
            "--http-port",
            str(port),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "POSTROOM_API_KEY": "", **(env or {})},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not become healthy")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    return out, port


def test_first_start_prints_key_once_and_url(tmp_path: Path) -> None:
    out, port = _serve(tmp_path / "data")
    assert f"http://127.0.0.1:{port}/v3/" in out
    match = KEY_LINE.search(out)
    assert match, out
    out2, _ = _serve(tmp_path / "data")
    assert not KEY_LINE.search(out2) and match.group(1) not in out2
    out3, _ = _serve(tmp_path / "data", None, "--reset-api-key")
    new = KEY_LINE.search(out3)
    assert new and new.group(1) != match.group(1)
    assert (tmp_path / "data" / "postroom.sqlite3").is_file()


def test_fixed_key_is_never_echoed_and_works(tmp_path: Path) -> None:
    key = "api-" + "AB" * 16
    out, _ = _serve(tmp_path / "data", {"POSTROOM_API_KEY": key})
    assert key not in out and not KEY_LINE.search(out)


def test_bad_setting_fails_with_clear_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["serve", "--data-dir", str(tmp_path), "--delivery-mode", "smoke-signals"]
    )
    assert result.exit_code != 0 and "delivery_mode" in result.output


def test_migrate_and_keys_create(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["migrate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        main,
        [
            "keys",
            "create",
            "--data-dir",
            str(tmp_path),
            "--permissions",
            "/email/*",
            "--permissions",
            "/activity/search",
        ],
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"api-[0-9A-F]{32}", key)

    from postroom.features.api_keys import repo
    from postroom.features.api_keys.service import key_id_of
    from postroom.storage.database import Database

    db = Database(f"sqlite:///{tmp_path / 'postroom.sqlite3'}")
    row = db.read_sync(lambda c: repo.key_by_id(c, key_id_of(key)))
    db.close()
    assert row is not None and row["endpoints"] == ["/email/*", "/activity/search"]


def test_keys_create_refuses_aliases_and_unknown_paths(tmp_path: Path) -> None:
    runner = CliRunner()
    for grant, words in (("/smtp/add", "alias"), ("/nothing/here", "names no endpoint")):
        result = runner.invoke(main, ["keys", "create", "--data-dir", str(tmp_path), "--permissions", grant])
        assert result.exit_code != 0 and words in result.output, result.output
