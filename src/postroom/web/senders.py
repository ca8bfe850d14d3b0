"""The verification link of a single sender email (opened from the mail Postroom sent).

No sign-in and no API key: the signed token is the proof. GET only shows the address and a
"Verify <address>" button, so a mail scanner that prefetches links verifies nothing; the button
POSTs to the same URL, which verifies. The form needs no CSRF token: the token in the URL is the
secret, and a page that knows it could verify anyway. A bad, expired or stale link answers 400 on
both methods.
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


def _invalid() -> Response:
    return page("Verification failed", f'<p class="error">{e(INVALID)}</p>', status_code=400)


async def confirm_sender(request: Request) -> Response:
    """GET: name the address and offer the button; nothing changes."""
    services: Services = request.app.state.services
    address = await services.single_senders.pending(request.path_params["token"])
    if address is None:
        return _invalid()
    body = (
        f"<h2>Verify {e(address)}</h2>"
        "<p>A Postroom account asked to send email from this address. If the address is yours and "
        "you agree, press the button. If you did not expect this, close this page: nothing changes.</p>"
        # no action: the form posts to the page's own URL, as the browser sees it (behind a proxy
        # that serves Postroom under a path prefix too)
        f'<form method="post"><button type="submit">Verify {e(address)}</button></form>'
    )
    return page("Verify sender", body)


async def verify_sender(request: Request) -> Response:
    """POST (the button): mark the address verified."""
    services: Services = request.app.state.services
    address = await services.single_senders.verify(request.path_params["token"])
    if address is None:
        return _invalid()
    body = f"<h2>{e(address)} is verified</h2><p>Postroom accepts mail from this address now.</p>"
    return page("Sender verified", body)


routes: list[Any] = [
    Route("/verify/sender/{token}", confirm_sender, methods=["GET"]),
    Route("/verify/sender/{token}", verify_sender, methods=["POST"]),
]
