"""/domain/*: decode, one service call, envelope."""

from __future__ import annotations

from postroom.api.registry import Registry


def register(registry: Registry) -> None:
    """Adds this area's endpoints (none yet)."""
