"""Web pages (placeholder list until the capture page lands)."""

from __future__ import annotations

from typing import Any

routes: list[Any] = []
