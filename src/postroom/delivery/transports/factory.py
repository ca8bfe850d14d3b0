"""The outbound transport for the configured delivery mode (relay or mx)."""

from __future__ import annotations

from postroom.delivery.dns import Resolver
from postroom.delivery.transports.base import Transport
from postroom.delivery.transports.mx import MxTransport
from postroom.delivery.transports.relay import RelayTransport
from postroom.settings import Settings


def build_transport(settings: Settings, resolver: Resolver | None = None) -> Transport:
    """RelayTransport or MxTransport from the settings (`resolver` replaces DNS for mx, in tests).

    Raises ValueError for capture mode, which has no outbound transport of its own here.
    """
    if settings.delivery_mode == "relay":
        return RelayTransport.from_settings(settings)
    if settings.delivery_mode == "mx":
        return MxTransport.from_settings(settings, resolver)
    raise ValueError(f"delivery mode {settings.delivery_mode!r} has no outbound SMTP transport")
