"""The invitation link of a subaccount (opened from the invitation mail Postroom sent)."""

from __future__ import annotations

from typing import Any

routes: list[Any] = []
