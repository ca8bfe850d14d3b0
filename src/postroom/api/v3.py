"""The /v3 door: resolve the endpoint, read and decode the body, authenticate, check permission, call.

Every answer is the envelope; every failure goes through errors.PostroomError's one mapping.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from postroom.api.access import act, admit, check_quota
from postroom.api.envelope import envelope, error_envelope
from postroom.api.registry import Registry
from postroom.bodies import decode_json_object
from postroom.errors import InvalidInput, MethodNotAllowed, NotFound, PostroomError
from postroom.features.endpoints import Call
from postroom.ids import new_request_id

if TYPE_CHECKING:
    from postroom.services import Services

log = logging.getLogger(__name__)
PREFIX = "/v3/"
# Send endpoints also report an error the way their clients read a refused message: the Python
# client's `errors` is `data.failures`, and WP Mail SMTP looks for an empty `email_id`.
SEND_PATHS = {"/email/send", "/email/mime"}


def send_failure(exc: PostroomError) -> dict[str, object]:
    return {**exc.data(), "succeeded": 0, "failed": 1, "failures": [exc.message], "email_id": ""}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, reading no further than `limit` bytes; over it is a validation error."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InvalidInput("body", f"The request body is larger than the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput("body", f"The request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


class V3App:
    """The /v3 door as a plain ASGI app: every error is already an envelope here, so it needs none
    of the generic middleware the rest of the site runs through."""

    def __init__(self, services: Services, registry: Registry) -> None:
        self.services = services
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope["path"][len(PREFIX) - 1 :]
        response = await dispatch(self.services, self.registry, request, path)
        await response(scope, receive, send)


async def dispatch(services: Services, registry: Registry, request: Request, path: str) -> Response:
    """Resolve, read, authenticate, authorise and call; always answers with the envelope."""
    request_id = new_request_id()
    try:
        endpoint = registry.resolve(path)
        if endpoint is None:
            if registry.planned(path):
                raise NotFound(f"The endpoint {path} is not available in this Postroom version yet")
            raise NotFound(f"Unknown endpoint {path}")
        if request.method not in endpoint.methods:
            raise MethodNotAllowed(f"The endpoint {path} does not accept {request.method}")
        limit = (
            services.settings.max_email_body
            if endpoint.path.startswith("/email/")
            else services.settings.max_api_body
        )
        body = decode_json_object(await read_body(request, limit))
        principal, limits = await admit(services, request.headers, body, endpoint.path, client_ip(request))
        principal = await act(services, principal, body)
        await check_quota(services, principal, endpoint.path, body)
        call = Call(
            services, principal, body, request_id, client_ip(request), registry.catalog(), request.method
        )
        return envelope(request_id, await endpoint.handler(call), headers=limits)
    except PostroomError as exc:
        if path.rstrip("/") in SEND_PATHS:
            response = envelope(request_id, send_failure(exc), status=exc.status)
        else:
            response = error_envelope(request_id, exc)
        response.headers.update(getattr(exc, "headers", {}))  # a 429's X-RateLimit-* and Retry-After
        return response
    except Exception:
        log.exception("unexpected error in %s (request_id=%s)", path, request_id)
        return error_envelope(request_id, PostroomError("An unexpected error occurred; see the server log"))
