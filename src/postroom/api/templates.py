"""/api/v1/templates/{id}/render: a template filled with `template_data`, as a send would carry it.

For the dashboard and for users' own tests (nothing is sent or stored). An entry room of the HTTP API
beside the capture API, behind the same guard (api.capture.guarded); the template is the key's
account's, and the answer is `{subject, html, text}` (errors are the /v3 envelopes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.api.capture import guarded
from postroom.api.envelope import JSONResponse
from postroom.api.v3 import read_body
from postroom.bodies import convert, decode_json_object
from postroom.features.api_keys.service import Principal
from postroom.features.templates.schemas import RenderRequest

if TYPE_CHECKING:
    from postroom.services import Services


async def render(request: Request, services: Services, principal: Principal) -> Response:
    body = decode_json_object(await read_body(request, services.settings.max_api_body))
    req = convert(body, RenderRequest)
    rendered = await services.templates.render(
        principal.account_id,
        request.path_params["template_id"],
        req.template_data,
        services.settings.max_email_body,
    )
    return JSONResponse(msgspec.to_builtins(rendered))


routes = [Route("/api/v1/templates/{template_id}/render", guarded(render), methods=["POST"])]
