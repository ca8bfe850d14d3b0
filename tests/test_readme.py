"""The README stays true: its configuration table lists every setting, and its commands exist."""

from __future__ import annotations

from pathlib import Path

from postroom.settings import settings_table

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    for env, default, description in settings_table():
        assert f"| `{env}` | `{default}` | {description} |" in README, env


def test_the_two_commands_are_documented() -> None:
    assert "./run serve" in README and "./run test" in README
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "./run test" in ci
