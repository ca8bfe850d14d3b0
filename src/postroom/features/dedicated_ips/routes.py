"""/dedicated_ips/view: the IP pools configured in settings.ip_pools."""

from __future__ import annotations

from typing import Any

from postroom.api.call import Call
from postroom.api.registry import Endpoint, Registry
from postroom.features.dedicated_ips import service
from postroom.features.dedicated_ips.schemas import DedicatedIpsViewRequest, IpPoolResult


async def view(call: Call) -> Any:
    call.parse(DedicatedIpsViewRequest)
    return service.view(call.services.settings.pools)


def register(registry: Registry) -> None:
    registry.add(
        Endpoint(
            "/dedicated_ips/view",
            view,
            DedicatedIpsViewRequest,
            list[IpPoolResult],
            "List the dedicated IP pools (settings ip_pools) that ip_pool settings may name",
        )
    )
