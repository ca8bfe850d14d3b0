"""The one place a caller's access is decided, for every HTTP door: permission, then the IP allow list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from postroom.errors import Forbidden
from postroom.features.api_keys.service import Principal

if TYPE_CHECKING:
    from postroom.services import Services


async def authorize(services: Services, principal: Principal, path: str, ip: str) -> None:
    """Raise Forbidden unless the key may call `path` (canonical) and `ip` passes the API allow list."""
    if not principal.may_call(path):
        raise Forbidden("You do not have permission to access this API endpoint")
    if not await services.ip_access.api_allowed(principal.account_id, ip):
        raise Forbidden(f"The IP address {ip} is not on this account's API allow list")
