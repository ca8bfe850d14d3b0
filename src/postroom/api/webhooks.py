"""/api/v1/webhooks/{id}/…: a webhook's notifications with every attempt, retry and cancel, test events.

An entry room of the HTTP API beside the capture API, behind the same guard (api.capture.guarded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.api.capture import guarded
from postroom.api.envelope import JSONResponse
from postroom.bodies import convert
from postroom.errors import InvalidInput
from postroom.features.api_keys.service import Principal
from postroom.features.webhooks.schemas import NotificationQuery

if TYPE_CHECKING:
    from postroom.services import Services


def _webhook_id(request: Request) -> int:
    text = request.path_params["webhook_id"]
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("webhook_id", "A webhook id is a number")
    return int(text)


async def list_notifications(request: Request, services: Services, principal: Principal) -> Response:
    query = convert(dict(request.query_params), NotificationQuery)
    page = await services.webhooks.notifications(principal.account_id, _webhook_id(request), query)
    return JSONResponse(msgspec.to_builtins(page))


async def retry(request: Request, services: Services, principal: Principal) -> Response:
    notification = request.path_params["notification_id"]
    await services.webhooks.retry(principal.account_id, _webhook_id(request), notification)
    return JSONResponse({"id": notification, "state": "pending"})


async def cancel(request: Request, services: Services, principal: Principal) -> Response:
    notification = request.path_params["notification_id"]
    await services.webhooks.cancel(principal.account_id, _webhook_id(request), notification)
    return JSONResponse({"id": notification, "state": "cancelled"})


async def test(request: Request, services: Services, principal: Principal) -> Response:
    results = await services.webhooks.test(principal.account_id, _webhook_id(request))
    return JSONResponse({"results": msgspec.to_builtins(results)})


BASE = "/api/v1/webhooks/{webhook_id}"
routes = [
    Route(f"{BASE}/notifications", guarded(list_notifications), methods=["GET"]),
    Route(f"{BASE}/deliveries", guarded(list_notifications), methods=["GET"]),  # the name
    Route(f"{BASE}/notifications/{{notification_id}}/retry", guarded(retry), methods=["POST"]),
    Route(f"{BASE}/deliveries/{{notification_id}}/retry", guarded(retry), methods=["POST"]),
    Route(f"{BASE}/notifications/{{notification_id}}/cancel", guarded(cancel), methods=["POST"]),
    Route(f"{BASE}/deliveries/{{notification_id}}/cancel", guarded(cancel), methods=["POST"]),
    Route(f"{BASE}/test", guarded(test), methods=["POST"]),
]
