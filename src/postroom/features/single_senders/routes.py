"""/single_sender_emails/* (aliases /sender/*)."""

from __future__ import annotations

from postroom.api.registry import Registry


def register(registry: Registry) -> None:
    pass
