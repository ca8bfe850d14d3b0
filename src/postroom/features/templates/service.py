"""Email templates: the /template/* rules, and rendering a template for a send or a preview.

Templates belong to the account of the key (a subaccount's are its own). Every body is compiled when
it is added or edited, so a template that does not compile is refused then (InvalidInput naming the
field and the line and column), never at send time. Rendering (engine.py) fills subject and text
unescaped and the HTML part HTML-escaped; a missing variable is empty; output is bounded by the
message size limit. Raises InvalidInput (bad id, bad template, bad template_data), NotFound (no such
template) and Conflict (an id that the account already uses).

A send reads its template through an in-process cache (cache.py): a change made through this process
is seen by its next send, one made through another process within CACHE_SECONDS + STALE_SECONDS.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
import msgspec
from sqlalchemy import Connection

from postroom.cache import Cache
from postroom.clock import SYSTEM_CLOCK, Clock, utcnow
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.features.templates import engine, repo
from postroom.features.templates.schemas import (
    AddRequest,
    EditRequest,
    Rendered,
    SearchRequest,
    SearchResult,
    TemplateEcho,
    TemplateSummary,
    TemplateView,
)
from postroom.mail.html_text import html_to_text
from postroom.storage.database import Database

MIN_ID, MAX_ID = 5, 24
CACHE_SECONDS = 2.0
STALE_SECONDS = 3.0
BODIES = ("subject", "html_body", "text_body")


def check_id(field: str, value: str) -> str:
    """A template id of 5-24 printable characters (case-sensitive, as SMTP2GO's)."""
    if len(value) < MIN_ID:
        raise InvalidInput(field, f"The field '{field}' must be at least {MIN_ID} characters long")
    if len(value) > MAX_ID:
        raise InvalidInput(field, f"The field '{field}' must be at most {MAX_ID} characters long")
    if not value.isprintable():
        raise InvalidInput(field, f"The field '{field}' must not contain control characters")
    return value


async def check_template(field: str, source: str) -> None:
    """InvalidInput naming the field and where it fails, when `source` does not compile (compiled in
    a worker thread: pybars may take a second over a large template)."""
    if "\x00" in source:
        raise InvalidInput(field, f"The field '{field}' must not contain NUL characters")
    try:
        await _compiled(source, field == "html_body")
    except engine.TemplateSyntaxError as exc:
        raise InvalidInput(field, f"The field '{field}' is not a valid template: {exc}") from None


async def _compiled(source: str, escape: bool) -> engine.Template:
    found = engine.cached(source, escape)
    if found is None:
        found = await anyio.to_thread.run_sync(engine.compile_template, source, escape)
    return found


async def compile_row(row: Mapping[str, Any]) -> None:
    """Have the row's parts compiled (in a thread when they are not cached) before a render."""
    for field in BODIES:
        if row[field]:
            await _compiled(row[field], field == "html_body")


def template_data(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The data of a send: an object, or a string holding one; InvalidInput otherwise."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = msgspec.json.decode(value)
        except (msgspec.DecodeError, RecursionError):
            raise InvalidInput("template_data", "The field 'template_data' is not valid JSON") from None
    if not isinstance(value, Mapping):
        raise InvalidInput("template_data", "The field 'template_data' must be a JSON object")
    try:
        engine.check_data(value)
    except engine.TooDeep:
        raise InvalidInput(
            "template_data", f"The field 'template_data' nests deeper than {engine.MAX_DATA_DEPTH} levels"
        ) from None
    return dict(value)


def _fill(source: str, data: Mapping[str, Any], budget: int, escape: bool) -> str:
    return engine.compile_template(source, escape).render(data, budget) if source else ""


def render(row: Mapping[str, Any], data: Mapping[str, Any], budget: int) -> Rendered:
    """The template filled with data (checked by `template_data`); the text part generated from the
    HTML when it has none."""
    try:
        subject = _fill(row["subject"], data, budget, escape=False)
        html = _fill(row["html_body"], data, budget - len(subject), escape=True)
        text = (
            _fill(row["text_body"], data, budget - len(subject) - len(html), escape=False)
            if row["text_body"]
            else (html_to_text(html) if html else "")
        )
    except engine.TooLarge:
        raise InvalidInput(
            "template_data", f"The template expands past the message size limit of {budget} bytes"
        ) from None
    except engine.TemplateSyntaxError as exc:  # stored before this rule; refused as any bad body
        raise InvalidInput("template_id", f"The template does not compile: {exc}") from None
    return Rendered(subject=subject, html=html, text=text)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _echo(row: Mapping[str, Any]) -> TemplateEcho:
    return TemplateEcho(
        template_name=row["name"],
        id=row["template_id"],
        subject=row["subject"],
        html_body=row["html_body"],
        text_body=row["text_body"],
        template_variables=dict(row["variables"] or {}),
        tags=list(row["tags"] or []),
        last_updated=_stamp(row["updated_at"]),
    )


def _matches(row: Mapping[str, Any], req: SearchRequest) -> bool:
    tags = set(row["tags"] or [])
    if req.tags and not set(req.tags) <= tags:
        return False
    if not req.search_terms:
        return True
    fields = [str(row["template_id"]).lower(), str(row["name"]).lower()]
    if req.fuzzy_search:
        fields.append(str(row["subject"]).lower())
        return any(term.lower() in f for term in req.search_terms for f in fields)
    return any(term.lower() == f for term in req.search_terms for f in fields)


def _offset(token: str) -> int:
    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode("ascii") + b"==").decode("ascii"))
    except (ValueError, UnicodeError):
        offset = -1
    if offset < 0:
        raise InvalidInput("continue_token", "The field 'continue_token' is not one this server gave")
    return offset


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode("ascii")).decode("ascii").rstrip("=")


class TemplateService:
    def __init__(self, db: Database, clock: Clock = SYSTEM_CLOCK) -> None:
        self._db = db
        self._rows: Cache[tuple[str, str], dict[str, Any] | None] = Cache(
            self._load, fresh=CACHE_SECONDS, stale=STALE_SECONDS, clock=clock, name="template"
        )

    async def _load(self, key: tuple[str, str]) -> dict[str, Any] | None:
        account_id, template_id = key
        return await self._db.read(lambda conn: repo.get(conn, account_id, template_id))

    async def add(self, account_id: str, req: AddRequest) -> TemplateEcho:
        template_id = check_id("id", req.id)
        if not req.template_name.strip():
            raise InvalidInput("template_name", "The field 'template_name' is required")
        for field in BODIES:
            await check_template(field, getattr(req, field))
        values = {
            "account_id": account_id,
            "template_id": template_id,
            "name": req.template_name,
            "subject": req.subject,
            "html_body": req.html_body,
            "text_body": req.text_body,
            "variables": req.template_variables,
            "tags": req.tags,
            "updated_at": utcnow().replace(microsecond=0),
        }
        if not await self._db.write(lambda conn: repo.insert(conn, values)):
            raise Conflict(f"A template with id '{template_id}' already exists")
        self._rows.forget((account_id, template_id))
        return _echo(values)

    async def edit(self, account_id: str, req: EditRequest) -> TemplateEcho:
        template_id = req.id
        new_id = check_id("new_id", req.new_id) if req.new_id else template_id
        changes: dict[str, Any] = {}
        if req.template_name is not None:
            changes["name"] = req.template_name
        for field in BODIES:
            value = getattr(req, field)
            if value is not None:
                await check_template(field, value)
                changes[field] = value
        if req.template_variables is not None:
            changes["variables"] = req.template_variables
        if req.tags is not None:
            changes["tags"] = req.tags
        changes["template_id"] = new_id
        changes["updated_at"] = utcnow().replace(microsecond=0)

        def apply(conn: Connection) -> dict[str, Any]:
            row = repo.get(conn, account_id, template_id)
            if row is None:
                raise NotFound(f"Template '{template_id}' not found")
            if new_id != template_id and repo.get(conn, account_id, new_id) is not None:
                raise Conflict(f"A template with id '{new_id}' already exists")
            if not repo.replace(conn, account_id, template_id, changes):
                raise Conflict(f"A template with id '{new_id}' already exists")
            return {**row, **changes}

        try:
            return _echo(await self._db.write(apply))
        finally:
            self._rows.forget((account_id, template_id))
            self._rows.forget((account_id, new_id))

    async def delete(self, account_id: str, template_id: str) -> str:
        removed = await self._db.write(lambda conn: repo.remove(conn, account_id, template_id))
        self._rows.forget((account_id, template_id))
        if not removed:
            raise NotFound(f"Template '{template_id}' not found")
        return f"Successfully deleted template '{template_id}'"

    async def row(self, account_id: str, template_id: str, cached: bool = False) -> dict[str, Any]:
        """The account's template; `cached` (the send path) through the in-process cache."""
        if cached:
            row = await self._rows.get((account_id, template_id))
        else:
            row = await self._db.read(lambda conn: repo.get(conn, account_id, template_id))
        if row is None:
            raise NotFound(f"Template '{template_id}' not found")
        return row

    async def view(self, account_id: str, template_id: str) -> TemplateView:
        row = await self.row(account_id, template_id)
        echo = _echo(row)
        return TemplateView(
            name=echo.template_name,
            id=echo.id,
            subject=echo.subject,
            tags=echo.tags,
            html_body=echo.html_body,
            text_body=echo.text_body,
            template_variables=echo.template_variables,
            last_updated=echo.last_updated,
        )

    async def search(self, account_id: str, req: SearchRequest) -> SearchResult:
        if req.sort_direction.lower() not in ("asc", "desc"):
            raise InvalidInput("sort_direction", "The field 'sort_direction' must be 'asc' or 'desc'")
        offset = _offset(req.continue_token)
        rows = await self._db.read(lambda conn: repo.listing(conn, account_id))
        found = sorted(
            (r for r in rows if _matches(r, req)),
            key=lambda r: (str(r["name"]).lower(), str(r["template_id"])),
            reverse=req.sort_direction.lower() == "desc",
        )
        page = found[offset : offset + req.page_size]
        more = offset + req.page_size < len(found)
        return SearchResult(
            continue_token=_token(offset + req.page_size) if more else None,
            templates=[
                TemplateSummary(
                    name=r["name"],
                    id=r["template_id"],
                    subject=r["subject"],
                    tags=list(r["tags"] or []),
                    last_updated=_stamp(r["updated_at"]),
                )
                for r in page
            ],
            total_count=len(found),
        )

    async def render(
        self, account_id: str, template_id: str, data: Mapping[str, Any] | str | None, budget: int
    ) -> Rendered:
        """The account's template filled with `template_data`; NotFound, or InvalidInput."""
        values = template_data(data)
        row = await self.row(account_id, template_id, cached=True)
        try:
            await compile_row(row)
        except engine.TemplateSyntaxError as exc:  # stored before a rule of today's engine
            raise InvalidInput("template_id", f"The template does not compile: {exc}") from None
        return render(row, values, budget)
