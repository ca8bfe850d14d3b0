"""The verification link of a single sender email (opened from the mail Postroom sent)."""

from __future__ import annotations

from typing import Any

routes: list[Any] = []
