"""npm packages the tests drive, installed once into `.cache/<folder>/` (git-ignored) and reused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def installed_version(prefix: Path, package: str) -> str | None:
    manifest = prefix / "node_modules" / package / "package.json"
    try:
        version = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return str(version)


def npm_package(package: str, version: str, folder: str) -> Path:
    """The folder whose node_modules holds package@version, installed with npm when missing.

    Node.js and npm missing is a skip, or a failure under POSTROOM_REQUIRE_ALL_TESTS=1 (.ci/run)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not found on PATH"
        if os.environ.get("POSTROOM_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(f"POSTROOM_REQUIRE_ALL_TESTS=1 but {message}")
        pytest.skip(message)
    cache = REPO / ".cache" / folder
    if installed_version(cache, package) == version:
        return cache
    # Install into a private staging folder, then move it into place, so that an interrupted or
    # concurrent install never leaves a half-filled cache behind.
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = cache.parent / f"{folder}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [
                "npm",
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(staging),
                f"{package}@{version}",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0 or installed_version(staging, package) != version:
            pytest.fail(
                f"npm install {package}@{version} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        if cache.exists():  # an older version, or a broken install
            shutil.rmtree(cache)
        try:
            staging.rename(cache)
        except OSError:
            if installed_version(cache, package) != version:  # not another session winning the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cache
