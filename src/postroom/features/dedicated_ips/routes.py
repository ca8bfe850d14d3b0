"""/dedicated_ips/view: the IP pools configured in settings.ip_pools."""

from __future__ import annotations

from postroom.api.registry import Registry


def register(registry: Registry) -> None:
    pass
