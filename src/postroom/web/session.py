"""Web sign-in sessions: the HttpOnly cookie that carries a signed session (features.api_keys.sessions).

The cookie holds `v1.key_id.expires.nonce.signature`, never the key; signing, checking and revoking
it is the sessions service's, which keeps its secret and sign-outs in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from postroom.features.api_keys.service import Principal
from postroom.features.api_keys.sessions import LIFETIME_SECONDS, Claims, SessionSigner

COOKIE = "postroom_session"


@dataclass(frozen=True)
class Session:
    """A signed-in visitor: who they are, the token their forms must carry, and their cookie's claims."""

    principal: Principal
    csrf: str
    claims: Claims


def signer_of(request: Request) -> SessionSigner:
    """The process's signer, kept on the application state beside the services."""
    state = request.app.state
    signer: SessionSigner | None = getattr(state, "web_sessions", None)
    if signer is None:
        signer = SessionSigner(state.services.db)
        state.web_sessions = signer
    return signer


def set_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=LIFETIME_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
