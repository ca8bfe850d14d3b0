"""The capture viewer at `/`: thin handlers over the same message service as the JSON capture API.

Every page but sign-in needs a session (see session.py); a page is allowed when the session's key may
call the matching capture API path (`/messages/x/raw` ↔ `/api/v1/messages/x/raw`). Forms that change
something carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from postroom.api.access import permit
from postroom.errors import AuthError, Forbidden, InvalidInput, PostroomError
from postroom.features.api_keys.service import Principal
from postroom.features.messages.schemas import ListQuery, MessageDetail
from postroom.web import domains as domain_pages
from postroom.web.inline import data_uri, referenced_images, rewrite_cids
from postroom.web.layout import FILE_CSP, error_page
from postroom.web.pages import list_page, message_page, sign_in_page
from postroom.web.session import COOKIE, Session, clear_cookie, set_cookie, signer_of

if TYPE_CHECKING:
    from postroom.services import Services

log = logging.getLogger(__name__)
Handler = Callable[[Request, "Services", Session], Awaitable[Response]]
LIST_API = "/api/v1/messages"
DASHBOARD_APIS = (LIST_API, domain_pages.VIEW_API)  # a key may sign in when it may see one of the parts
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_FORM_BYTES = 16 * 1024
_MEDIA_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_FILE_HEADERS = {
    "Content-Security-Policy": FILE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _api_path(request: Request) -> str:
    path = request.url.path
    return "/api/v1" + path if path.startswith("/messages/") else LIST_API


async def _session(request: Request, services: Services) -> Session | None:
    signer = signer_of(request)
    claims = await signer.verify(request.cookies.get(COOKIE))
    principal = await services.keys.by_key_id(claims.key_id) if claims else None
    if claims is None or principal is None:
        return None
    return Session(principal, await signer.csrf_token(claims), claims)


def _to_sign_in(request: Request) -> Response:
    """Redirect to the form, coming back to this page afterwards (a signed-out POST goes home)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = target if request.method in ("GET", "HEAD") else "/"
    query = "" if target == "/" else "?" + urlencode({"next": target})
    response = RedirectResponse("/sign-in" + query, 303)
    if COOKIE in request.cookies:
        clear_cookie(response, request)
    return response


def _signed_in(inner: Handler, api_path: str = "") -> Callable[[Request], Awaitable[Response]]:
    """Resolve the session (or send the visitor to sign in), check the key's permission, then run.

    The permission is that of the matching API path: `api_path` when given, else the capture API's."""

    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        session = await _session(request, services)
        if session is None:
            return _to_sign_in(request)
        try:
            needed = api_path or _api_path(request)
            permit(session.principal, needed, f"This API key may not call {needed}, which this page needs")
            await _allowed_ip(request, services, session.principal)
            return await inner(request, services, session)
        except PostroomError as exc:
            return error_page(exc.message, exc.status, session.csrf)
        except Exception:
            log.exception("unexpected error in %s", request.url.path)
            return error_page("An unexpected error occurred; see the server log", 500, session.csrf)

    return endpoint


async def _allowed_ip(request: Request, services: Services, principal: Principal) -> None:
    """The account's API allow list applies to its dashboard as to its API (Forbidden otherwise)."""
    ip = request.client.host if request.client else ""
    if not await services.ip_access.api_allowed(principal.account_id, ip):
        raise Forbidden(f"The IP address {ip} is not on this account's API allow list")


async def _form(request: Request) -> dict[str, str]:
    """The fields of a url-encoded form body (first value of each), refusing oversized bodies."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise InvalidInput("body", "The form is too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


async def _checked_form(request: Request, session: Session) -> dict[str, str]:
    form = await _form(request)
    if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
        raise Forbidden("The form has expired or did not come from this page; reload it and try again")
    return form


def _safe_next(value: str) -> str:
    """Only same-site paths are followed after sign-in (browsers drop tabs, so `/<tab>/x` means `//x`)."""
    ok = value.startswith("/") and not value.startswith("//") and "\\" not in value and value.isprintable()
    return value if ok else "/"


async def sign_in_form(request: Request) -> Response:
    return sign_in_page(next_path=_safe_next(request.query_params.get("next", "/")))


async def sign_in(request: Request) -> Response:
    services: Services = request.app.state.services
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        principal = await services.keys.authenticate(form.get("api_key", "").strip())
    except (AuthError, InvalidInput):
        return sign_in_page("That API key is not valid.", _safe_next(form.get("next", "/")), 400)
    next_path = _safe_next(form.get("next", "/"))
    try:
        await _allowed_ip(request, services, principal)
    except Forbidden as exc:
        return sign_in_page(exc.message, next_path, 403)
    if not any(principal.may_call(path) for path in DASHBOARD_APIS):
        return sign_in_page("This API key may not read captured messages.", next_path, 403)
    if next_path == "/" and not principal.may_call(LIST_API):
        next_path = "/domains"  # a key for the domain pages only
    response = RedirectResponse(next_path, 303)
    set_cookie(response, request, await signer_of(request).issue(principal.key_id))
    return response


async def sign_out(request: Request, services: Services, session: Session) -> Response:
    await _checked_form(request, session)
    await signer_of(request).revoke(session.claims)
    response = RedirectResponse("/sign-in", 303)
    clear_cookie(response, request)
    return response


def _list_query(params: dict[str, str]) -> ListQuery:
    limit = int(params["limit"]) if params.get("limit", "").isdigit() else PAGE_SIZE
    return ListQuery(
        to=params.get("to", ""),
        from_=params.get("from", ""),
        subject=params.get("subject", ""),
        cursor=params.get("cursor", ""),
        limit=min(max(limit, 1), MAX_PAGE_SIZE),
    )


async def index(request: Request, services: Services, session: Session) -> Response:
    params = {k: request.query_params.get(k, "") for k in ("to", "from", "subject", "limit", "cursor")}
    result = await services.messages.list(session.principal, _list_query(params))
    filters = {k: params[k] for k in ("to", "from", "subject", "limit")}
    return list_page(result, filters, bool(params["cursor"]), session.csrf)


async def empty(request: Request, services: Services, session: Session) -> Response:
    await _checked_form(request, session)
    await services.messages.delete_all(session.principal)
    return RedirectResponse("/", 303)


async def _preview(services: Services, principal: Principal, m: MessageDetail) -> str:
    """The HTML part with its referenced inline images embedded as data: URIs."""
    uris = {}
    for cid, index in referenced_images(m.html, m.attachments).items():
        content_type, _, content = await services.messages.part(principal, m.email_id, index)
        uris[cid] = data_uri(content_type, content)
    return rewrite_cids(m.html, uris)


async def message(request: Request, services: Services, session: Session) -> Response:
    detail = await services.messages.get(session.principal, request.path_params["email_id"])
    return message_page(detail, await _preview(services, session.principal, detail), session.csrf)


async def raw(request: Request, services: Services, session: Session) -> Response:
    source = await services.messages.raw(session.principal, request.path_params["email_id"])
    return Response(source, media_type="text/plain", headers=_FILE_HEADERS)


def _attachment_headers(content_type: str, filename: str) -> dict[str, str]:
    fallback = re.sub(r"[^A-Za-z0-9._ -]", "_", filename).strip() or "attachment"
    encoded = quote(filename or fallback, safe="")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    media = content_type if _MEDIA_TYPE.match(content_type) else "application/octet-stream"
    return {**_FILE_HEADERS, "Content-Type": media, "Content-Disposition": disposition}


async def part(request: Request, services: Services, session: Session) -> Response:
    email_id, index = request.path_params["email_id"], request.path_params["index"]
    content_type, filename, content = await services.messages.part(session.principal, email_id, index)
    return Response(content, headers=_attachment_headers(content_type, filename))


async def verify_domain(request: Request, services: Services, session: Session) -> Response:
    await _checked_form(request, session)
    return await domain_pages.verify(request, services, session)


routes = [
    Route("/", _signed_in(index), methods=["GET"]),
    Route("/sign-in", sign_in_form, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", _signed_in(sign_out), methods=["POST"]),
    Route("/empty", _signed_in(empty), methods=["POST"]),
    Route("/messages/{email_id}", _signed_in(message), methods=["GET"]),
    Route("/messages/{email_id}/raw", _signed_in(raw), methods=["GET"]),
    Route("/messages/{email_id}/parts/{index:int}", _signed_in(part), methods=["GET"]),
    Route("/domains", _signed_in(domain_pages.domains, domain_pages.VIEW_API), methods=["GET"]),
    Route("/domains/{domain}", _signed_in(domain_pages.domain, domain_pages.VIEW_API), methods=["GET"]),
    Route("/domains/{domain}/verify", _signed_in(verify_domain, domain_pages.VERIFY_API), methods=["POST"]),
]
