"""The sender-domain pages of the dashboard: `/domains` lists them, `/domains/<name>` is the setup page
that /domain/add's `setup_link` points to (the records to publish, their last check, a Verify button).

Thin handlers over the same DomainService as the API: a page is allowed when the session's key may call
/domain/view, the Verify button when it may call /domain/verify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from postroom.features.domains.schemas import DnsRecord, ViewedDomainEntry
from postroom.web.layout import e, page, rows
from postroom.web.session import Session

if TYPE_CHECKING:
    from postroom.services import Services

VIEW_API = "/domain/view"
VERIFY_API = "/domain/verify"


def domain_path(name: str, tail: str = "") -> str:
    return f"/domains/{quote(name, safe='')}{tail}"


def _state(verified: bool, status: str) -> str:
    word = "verified" if verified else "not verified"
    detail = f' <span class="muted">{e(status)}</span>' if status and not verified else ""
    return f"<strong>{word}</strong>{detail}"


def _record_row(r: DnsRecord) -> list[str]:
    return [
        e(r.record),
        e(r.type),
        f"<code>{e(r.name)}</code>",
        f"<code>{e(r.value)}</code>",
        _state(r.verified, r.status),
    ]


def _verify_form(name: str, csrf: str) -> str:
    return (
        f'<form method="post" action="{e(domain_path(name, "/verify"))}">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<button type="submit">Verify now</button></form>'
    )


def setup_page(entry: ViewedDomainEntry, csrf: str, may_verify: bool) -> Response:
    name = entry.domain.fulldomain
    table = (
        "<table><tr><th>Record</th><th>Type</th><th>Name</th><th>Value</th><th>Check</th></tr>"
        + rows(_record_row(r) for r in entry.dns_records)
        + "</table>"
    )
    body = (
        f"<section><h2>{e(name)}</h2>"
        '<p class="muted">Publish these records at your DNS provider, then verify. Mail from this domain '
        "is DKIM-signed with its key; bounces come back through the return-path name.</p>"
        f"{table}</section>"
        f'<div class="bar">{_verify_form(name, csrf) if may_verify else ""}'
        '<a href="/domains">All sender domains</a></div>'
    )
    return page(name, body, csrf)


def list_page(entries: list[ViewedDomainEntry], csrf: str) -> Response:
    def row(d: ViewedDomainEntry) -> list[str]:
        info = d.domain
        return [
            f'<a href="{e(domain_path(info.fulldomain))}">{e(info.fulldomain)}</a>',
            _state(info.dkim_verified, ""),
            _state(info.rpath_verified, ""),
        ]

    listed = (
        "<table><tr><th>Domain</th><th>DKIM</th><th>Return path</th></tr>"
        + rows(row(d) for d in entries)
        + "</table>"
        if entries
        else '<p class="muted">No sender domains yet: add one with /v3/domain/add.</p>'
    )
    return page("Sender domains", f"<section><h2>Sender domains</h2>{listed}</section>", csrf)


async def domains(request: Request, services: Services, session: Session) -> Response:
    result = await services.domains.view(session.principal.account_id)
    return list_page(result.domains, session.csrf)


async def domain(request: Request, services: Services, session: Session) -> Response:
    result = await services.domains.view(session.principal.account_id, request.path_params["domain"])
    may_verify = session.principal.may_call(VERIFY_API)
    return setup_page(result.domains[0], session.csrf, may_verify)


async def verify(request: Request, services: Services, session: Session) -> Response:
    result = await services.domains.verify(session.principal.account_id, request.path_params["domain"])
    return RedirectResponse(domain_path(result.domains[0].domain.fulldomain), 303)
