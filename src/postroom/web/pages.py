"""HTML of the capture viewer's pages: sign-in, the message list and one message.

Every value that comes from a message or a request goes through `e()` (or `href()`) on its way in.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import HTMLResponse

from postroom.features.messages.schemas import MessageDetail, MessageList, MessageSummary
from postroom.web.layout import e, href, human_size, page, rows, when


def message_path(email_id: str, tail: str = "") -> str:
    return f"/messages/{quote(email_id, safe='')}{tail}"


def sign_in_page(error: str = "", next_path: str = "/", status_code: int = 200) -> HTMLResponse:
    problem = f'<p class="error">{e(error)}</p>' if error else ""
    body = (
        '<form class="signin" method="post" action="/sign-in"><h2>Sign in</h2>'
        '<p class="muted">Enter an API key of this server to see the messages it captured.</p>'
        f'{problem}<label for="api_key">API key</label>'
        '<input type="password" id="api_key" name="api_key" autocomplete="off" required autofocus>'
        f'<input type="hidden" name="next" value="{e(next_path)}">'
        '<button type="submit">Sign in</button></form>'
    )
    return page("Sign in", body, status_code=status_code)


def _filters(filters: dict[str, str]) -> str:
    fields = "".join(
        f'<input type="text" name="{name}" placeholder="{label}" aria-label="{label}" '
        f'value="{e(filters[name])}">'
        for name, label in (("to", "To"), ("from", "From"), ("subject", "Subject"))
    )
    return (
        f'<form class="filters" method="get" action="/">{fields}<button type="submit">Filter</button>'
        '<a href="/">Clear</a></form>'
    )


def _summary_row(m: MessageSummary) -> list[str]:
    link = f'<a href="{e(message_path(m.email_id))}">{e(m.subject) or "<em>(no subject)</em>"}</a>'
    return [
        e(when(m.created_at)),
        e(m.sender),
        e(", ".join(m.to + m.cc)),
        link,
        e(human_size(m.size)),
        e(m.attachments),
    ]


def _empty_form(csrf: str) -> str:
    return (
        '<form method="post" action="/empty">'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        '<button class="danger" type="submit">Empty the store</button></form>'
    )


def list_page(result: MessageList, filters: dict[str, str], paged: bool, csrf: str) -> HTMLResponse:
    """The newest messages matching the filters, with links to the first and the next older page."""
    head = "<tr><th>Time</th><th>From</th><th>To</th><th>Subject</th><th>Size</th><th>Attachments</th></tr>"
    table = (
        f"<table>{head}{rows(_summary_row(m) for m in result.messages)}</table>"
        if result.messages
        else '<p class="muted">No captured messages.</p>'
    )
    links = []
    if paged:
        links.append(f'<a href="{href("/", filters)}">Newest</a>')
    if result.next_cursor:
        links.append(f'<a href="{href("/", {**filters, "cursor": result.next_cursor})}">Older</a>')
    body = f'{_filters(filters)}{table}<div class="bar">{" ".join(links)}{_empty_form(csrf)}</div>'
    return page("Messages", body, csrf)


def _envelope(m: MessageDetail) -> str:
    facts = [
        ("Received", when(m.created_at)),
        ("Source", m.source),
        ("API key / user", m.username),
        ("Client IP", m.client_ip),
        ("MAIL FROM", m.envelope.get("mail_from", "")),
        ("RCPT TO", ", ".join(m.envelope.get("rcpt_to", []))),
        ("From", m.from_),
        ("To", ", ".join(m.to)),
        ("Cc", ", ".join(m.cc)),
        ("Bcc", ", ".join(m.bcc)),
        ("Reply-To", m.reply_to),
        ("Size", human_size(m.size)),
    ]
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts if v)
    return f"<section><h2>Envelope</h2><table>{body}</table></section>"


def _bodies(m: MessageDetail, html: str) -> str:
    out = ""
    if m.html:
        out += (
            '<section><h2>HTML part</h2><iframe sandbox referrerpolicy="no-referrer" '
            f'title="HTML part" srcdoc="{e(html)}"></iframe></section>'
        )
    if m.text:
        out += f"<section><h2>Text part</h2><pre>{e(m.text)}</pre></section>"
    return out or '<section><p class="muted">This message has no text or HTML part.</p></section>'


def _attachments(m: MessageDetail) -> str:
    if not m.attachments:
        return ""
    cells = (
        [
            f'<a href="{e(message_path(m.email_id, "/parts/" + str(a["index"])))}">'
            f"{e(a['filename'] or 'part ' + str(a['index']))}</a>",
            e(a["content_type"]),
            e(human_size(int(a["size"]))),
            e(a["disposition"]),
            e(a["content_id"]),
        ]
        for a in m.attachments
    )
    head = "<tr><th>File</th><th>Type</th><th>Size</th><th>Disposition</th><th>Content-ID</th></tr>"
    return f"<section><h2>Attachments</h2><table>{head}{rows(cells)}</table></section>"


def _events(m: MessageDetail) -> str:
    head = "<tr><th>Event</th><th>Recipient</th><th>Time</th><th>SMTP response</th><th>Host</th></tr>"
    cells = ([e(v.event), e(v.recipient), e(when(v.date)), e(v.smtp_response), e(v.host)] for v in m.events)
    return f"<section><h2>Events</h2><table>{head}{rows(cells)}</table></section>"


def _headers(m: MessageDetail) -> str:
    body = "".join(f"<tr><th>{e(h['name'])}</th><td>{e(h['value'])}</td></tr>" for h in m.headers)
    return f"<section><h2>Headers</h2><table>{body}</table></section>"


def _warnings(m: MessageDetail) -> str:
    return "".join(f'<p class="warning">Warning: {e(w)}</p>' for w in m.warnings)


def message_page(m: MessageDetail, html: str, csrf: str) -> HTMLResponse:
    """One message; `html` is its HTML part as shown (inline images already made data: URIs)."""
    title = m.subject or "(no subject)"
    nav = (
        f'<div class="bar"><a href="/">← Messages</a>'
        f'<a href="{e(message_path(m.email_id, "/raw"))}">Raw source</a></div>'
    )
    body = (
        f"{nav}<h1>{e(title)}</h1>{_warnings(m)}{_envelope(m)}{_bodies(m, html)}{_attachments(m)}"
        f"{_events(m)}{_headers(m)}"
    )
    return page(title, body, csrf)
