"""Request and response shapes of /template/* (reference §6) and of the preview operation.

`id` is the caller's (5-24 characters, checked by the service so the message says which bound);
`view` and `search` answer `name`, `add` and `edit` echo `template_name`, as SMTP2GO does.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

TemplateId = Annotated[str, Meta(max_length=1000)]  # the 5-24 rule is the service's, with its message
Name = Annotated[str, Meta(max_length=64)]
Tags = Annotated[list[Annotated[str, Meta(max_length=100)]], Meta(max_length=100)]


class AddRequest(Struct):
    id: TemplateId
    template_name: Name
    subject: str = ""
    html_body: str = ""
    text_body: str = ""
    template_variables: dict[str, Any] = {}
    tags: Tags = []


class EditRequest(Struct):
    """Fields left out (or null, or empty) keep their value; `new_id` renames the template."""

    id: TemplateId
    new_id: TemplateId = ""
    template_name: Name | None = None
    subject: str | None = None
    html_body: str | None = None
    text_body: str | None = None
    template_variables: dict[str, Any] | None = None
    tags: Tags | None = None


class IdRequest(Struct):
    id: TemplateId


class SearchRequest(Struct):
    fuzzy_search: bool = False
    search_terms: Annotated[list[str], Meta(max_length=100)] = []
    tags: Tags = []
    sort_direction: str = "asc"
    page_size: Annotated[int, Meta(ge=1, le=1000)] = 100
    continue_token: str = ""


class RenderRequest(Struct):
    template_data: dict[str, Any] | str | None = None


class TemplateEcho(Struct):
    """What add and edit answer: the template as stored."""

    template_name: str
    id: str
    subject: str
    html_body: str
    text_body: str
    template_variables: dict[str, Any]
    tags: list[str]
    last_updated: str


class TemplateView(Struct):
    name: str
    id: str
    subject: str
    tags: list[str]
    html_body: str
    text_body: str
    template_variables: dict[str, Any]
    last_updated: str


class TemplateSummary(Struct):
    name: str
    id: str
    subject: str
    tags: list[str]
    last_updated: str


class SearchResult(Struct):
    continue_token: str | None
    templates: list[TemplateSummary]
    total_count: int


class Rendered(Struct):
    """A template filled with data: what a send with it would carry."""

    subject: str
    html: str
    text: str
