"""The page shell of the capture viewer: escaping, the security headers, the style sheet and small formats."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

# Pages load nothing from anywhere: inline CSS only, no scripts, images only as data: URIs (inline
# parts of a message), forms post back here, and no other site may frame us. The sandboxed srcdoc
# iframe inherits this policy, so a captured message cannot fetch remote content either.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Raw sources and downloaded parts are never run as a document of this origin.
FILE_CSP = "default-src 'none'; sandbox"

SECURITY_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{display:flex;gap:1em;align-items:center;padding:.6em 1.2em;background:#1d2330;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}header form{margin-left:auto}
main{padding:1em 1.2em;max-width:1200px}a{color:#1f5fbf}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #e2e5ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}td.num{text-align:right;white-space:nowrap}
.filters{display:flex;gap:.5em;flex-wrap:wrap;margin-bottom:1em}
input[type=text],input[type=password]{padding:.35em .5em;border:1px solid #b8bec8;border-radius:3px}
button{padding:.35em .8em;border:1px solid #8a93a3;border-radius:3px;background:#fff;cursor:pointer}
button.danger{border-color:#b3261e;color:#b3261e}.error{color:#b3261e;font-weight:600}
.warning{background:#fff4d6;border:1px solid #e0b84a;padding:.5em .8em}
.bar{display:flex;gap:1em;align-items:center;margin:1em 0}.muted{color:#677085}
iframe{width:100%;height:60vh;border:1px solid #c9ced6;background:#fff}
pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #e2e5ea;padding:.8em}
section{margin-bottom:1.6em}h2{font-size:1.1em;margin:.2em 0 .5em}
.signin{max-width:420px;margin:4em auto;background:#fff;padding:1.5em;border:1px solid #e2e5ea}
.signin input{width:100%;box-sizing:border-box;margin:.5em 0 1em}
"""


def e(value: object) -> str:
    """HTML-escape anything for text and double- or single-quoted attributes."""
    return escape(str(value), quote=True)


def href(path: str, params: dict[str, str] | None = None) -> str:
    """An escaped URL for an attribute: the path plus the non-empty query parameters."""
    query = urlencode({k: v for k, v in (params or {}).items() if v})
    return e(f"{path}?{query}" if query else path)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def when(rfc3339: str) -> str:
    """`2026-02-06T10:30:00Z` → `2026-02-06 10:30:00 UTC`."""
    return rfc3339.replace("T", " ").replace("Z", " UTC")


def rows(cells: Iterable[Iterable[str]]) -> str:
    """Table rows from already-escaped cell HTML."""
    return "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)


def sign_out_form(csrf: str) -> str:
    return (
        f'<form method="post" action="/sign-out"><input type="hidden" name="csrf" value="{e(csrf)}">'
        '<button type="submit">Sign out</button></form>'
    )


def page(title: str, body: str, csrf: str | None = None, status_code: int = 200) -> HTMLResponse:
    """A whole document: the header bar (with sign-out when signed in) around the body HTML."""
    account = '<a href="/domains">Sender domains</a>' + sign_out_form(csrf) if csrf is not None else ""
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} · Postroom</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{STYLE}</style></head>'
        f'<body><header><a href="/">Postroom</a><span class="muted">captured mail</span>{account}'
        f"</header><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(message: str, status_code: int, csrf: str | None = None) -> HTMLResponse:
    body = f'<p class="error">{e(message)}</p><p><a href="/">Back to the messages</a></p>'
    return page("Error", body, csrf, status_code)
