"""The capture API under /api/v1/messages: an entry room of the HTTP API beside /v3, over the message
service, behind the same guard as /v3 (api.access.admit: key, permission of the request path, IP
allow list, limits)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.api.access import admit
from postroom.api.envelope import JSONResponse, error_envelope
from postroom.bodies import convert
from postroom.errors import PostroomError
from postroom.features.api_keys.service import Principal
from postroom.features.messages.schemas import ListQuery
from postroom.ids import new_request_id

if TYPE_CHECKING:
    from postroom.services import Services

log = logging.getLogger(__name__)
Inner = Callable[[Request, "Services", Principal], Awaitable[Response]]


def guarded(inner: Inner) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, check that the key's permissions cover the request path, then run."""

    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            ip = request.client.host if request.client else ""
            principal, _ = await admit(services, request.headers, {}, request.url.path, ip)
            return await inner(request, services, principal)
        except PostroomError as exc:
            return error_envelope(new_request_id(), exc)
        except Exception:
            request_id = new_request_id()
            log.exception("unexpected error in %s (request_id=%s)", request.url.path, request_id)
            return error_envelope(request_id, PostroomError("An unexpected error occurred"))

    return endpoint


async def list_messages(request: Request, services: Services, principal: Principal) -> Response:
    query = convert(dict(request.query_params), ListQuery)
    return JSONResponse(await services.messages.list(principal, query))


async def delete_messages(request: Request, services: Services, principal: Principal) -> Response:
    return JSONResponse({"deleted": await services.messages.delete_all(principal)})


async def get_message(request: Request, services: Services, principal: Principal) -> Response:
    return JSONResponse(await services.messages.get(principal, request.path_params["email_id"]))


async def get_raw(request: Request, services: Services, principal: Principal) -> Response:
    raw = await services.messages.raw(principal, request.path_params["email_id"])
    return Response(raw, media_type="message/rfc822")


routes = [
    Route("/api/v1/messages", guarded(list_messages), methods=["GET"]),
    Route("/api/v1/messages", guarded(delete_messages), methods=["DELETE"]),
    Route("/api/v1/messages/{email_id}", guarded(get_message), methods=["GET"]),
    Route("/api/v1/messages/{email_id}/raw", guarded(get_raw), methods=["GET"]),
]
