"""/dedicated_ips/view: the IP pools configured in settings.ip_pools that the caller's account may use."""

from __future__ import annotations

from typing import Any

from postroom.features.dedicated_ips import service
from postroom.features.dedicated_ips.schemas import DedicatedIpsViewRequest, IpPoolResult
from postroom.features.endpoints import Call, Endpoint, Table


async def view(call: Call) -> Any:
    call.parse(DedicatedIpsViewRequest)
    pools, account_id = call.services.settings.pools, call.principal.account_id
    return await call.services.db.read(lambda conn: service.view_for(conn, account_id, pools))


def register(registry: Table) -> None:
    registry.add(
        Endpoint(
            "/dedicated_ips/view",
            view,
            DedicatedIpsViewRequest,
            list[IpPoolResult],
            "List the dedicated IP pools (settings ip_pools) that this account's ip_pool settings may name:"
            " every pool for a master account, only its own pool for a subaccount",
        )
    )
