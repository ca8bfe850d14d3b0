"""The verification link of a single sender email (opened from the mail Postroom sent).

No sign-in and no API key: the signed token is the proof. A bad, expired or stale link answers 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postroom.web.layout import e, page

if TYPE_CHECKING:
    from postroom.services import Services

INVALID = (
    "This verification link is not valid: it may have expired, been replaced by a newer one, "
    "or the address was removed. Ask for a new verification email."
)


async def verify_sender(request: Request) -> Response:
    services: Services = request.app.state.services
    address = await services.single_senders.verify(request.path_params["token"])
    if address is None:
        return page("Verification failed", f'<p class="error">{e(INVALID)}</p>', status_code=400)
    body = f"<h2>{e(address)} is verified</h2><p>Postroom accepts mail from this address now.</p>"
    return page("Sender verified", body)


routes: list[Any] = [Route("/verify/sender/{token}", verify_sender, methods=["GET"])]
