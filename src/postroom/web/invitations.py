"""The invitation link of a subaccount (opened from the invitation mail Postroom sent).

GET shows who invited whom and a button; only the POST accepts, so a mail scanner that fetches the
link cannot use it up. The page needs no session or CSRF token: the signed token in the path is the
secret, and it works once. Accepting shows the subaccount's first API key, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.errors import InvalidInput
from postroom.features.subaccounts.invitations import INVALID
from postroom.web.layout import e, error_page, page

if TYPE_CHECKING:
    from postroom.services import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def show(request: Request) -> Response:
    token = str(request.path_params["token"])
    invitation = await _services(request).subaccounts.invitation(token)
    if invitation is None:
        return error_page(INVALID, 400)
    body = (
        f'<section class="signin"><h2>Invitation to {e(invitation.name)}</h2>'
        f"<p>{e(invitation.master_name)} invites {e(invitation.email)} to the Postroom subaccount"
        f" <strong>{e(invitation.name)}</strong> ({e(invitation.subaccount_id)}).</p>"
        "<p>Accepting creates the subaccount's first API key and shows it once.</p>"
        f'<form method="post" action="/invitations/{e(token)}">'
        '<button type="submit">Accept the invitation</button></form></section>'
    )
    return page("Invitation", body)


async def accept(request: Request) -> Response:
    services = _services(request)
    try:
        key = await services.subaccounts.accept_invitation(str(request.path_params["token"]))
    except InvalidInput as exc:
        return error_page(exc.message, 400)
    api = services.settings.public_base + "/v3/"
    body = (
        '<section class="signin"><h2>Invitation accepted</h2>'
        "<p>This is the subaccount's API key. It is shown only now: keep it somewhere safe.</p>"
        f'<pre id="api-key">{e(key)}</pre>'
        f'<p>API base URL:</p><pre id="api-base">{e(api)}</pre>'
        "<p>Send it as <code>X-Smtp2go-Api-Key</code>, as <code>api_key</code> in the JSON body, or as"
        " <code>Authorization: Bearer</code>.</p></section>"
    )
    return page("Invitation accepted", body)


routes: list[Any] = [
    Route("/invitations/{token}", show, methods=["GET"]),
    Route("/invitations/{token}", accept, methods=["POST"]),
]
