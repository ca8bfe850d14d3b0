"""/template/*: decode (the seed's `template_id` is `id`), one service call, envelope."""

from __future__ import annotations

from typing import Any

from postroom.features.endpoints import Call, Endpoint, Table
from postroom.features.templates.schemas import (
    AddRequest,
    EditRequest,
    IdRequest,
    SearchRequest,
    SearchResult,
    TemplateEcho,
    TemplateView,
)

SYNONYMS = {"template_id": "id"}  # the seed's name for `id`


async def add(call: Call) -> Any:
    return await call.services.templates.add(call.principal.account_id, call.parse(AddRequest))


async def edit(call: Call) -> Any:
    return await call.services.templates.edit(call.principal.account_id, call.parse(EditRequest, SYNONYMS))


async def delete(call: Call) -> Any:
    return await call.services.templates.delete(call.principal.account_id, call.parse(IdRequest, SYNONYMS).id)


async def search(call: Call) -> Any:
    return await call.services.templates.search(call.principal.account_id, call.parse(SearchRequest))


async def view(call: Call) -> Any:
    return await call.services.templates.view(call.principal.account_id, call.parse(IdRequest, SYNONYMS).id)


ENDPOINTS = [
    Endpoint(
        "/template/add",
        add,
        AddRequest,
        TemplateEcho,
        "Add an email template under a caller-chosen id (5-24 characters); it must compile",
    ),
    Endpoint(
        "/template/edit",
        edit,
        EditRequest,
        TemplateEcho,
        "Change a template's fields (new_id renames it); fields left out keep their value",
    ),
    Endpoint("/template/delete", delete, IdRequest, str, "Delete a template"),
    Endpoint(
        "/template/search",
        search,
        SearchRequest,
        SearchResult,
        "Search the account's templates by name, id (and subject with fuzzy_search) and tags",
    ),
    Endpoint("/template/view", view, IdRequest, TemplateView, "A template with its bodies"),
]


def register(registry: Table) -> None:
    for endpoint in ENDPOINTS:
        registry.add(endpoint)
