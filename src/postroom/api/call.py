"""What a /v3 handler receives: the caller, the decoded body and the services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from postroom.api.body import convert
from postroom.features.api_keys.service import Principal

if TYPE_CHECKING:
    from postroom.services import Services

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    services: Services
    principal: Principal
    body: dict[str, Any]
    request_id: str
    client_ip: str
    method: str = "POST"

    def parse(self, kind: type[T]) -> T:
        """The body validated as `kind`; raises InvalidInput naming the first bad field."""
        return convert(self.body, kind)
