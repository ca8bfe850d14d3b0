"""GET /v3/openapi.json: an OpenAPI 3.1 document of every /v3 path and alias, from the Endpoint table.

Request bodies and success responses come from the msgspec Structs that validate and shape them;
every operation also documents the error envelope on each status decisions.md lists. The document
is what the schemathesis run in tests/api/test_openapi_fuzz.py checks the live server against, so
a response that strays from it fails CI.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
import msgspec.inspect as mi

from postroom import __version__
from postroom.api.examples import EXAMPLES
from postroom.api.registry import Endpoint, Registry
from postroom.errors import API_EXCEPTION, INVALID_IN_PAYLOAD, NON_VALIDATING, PERMISSION_DENIED
from postroom.errors import REQ_LIMIT_EXCEEDED as LIMIT_CODE

REF = "#/components/schemas/{name}"
# Paths whose error answers also carry the send result fields (api/v3.py SEND_PATHS).
SEND_PATHS = {"/email/send", "/email/mime"}

# status → (description, the error codes it carries): decisions.md's error table.
ERROR_STATUSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "400": ("A field fails validation; field_validation_errors names the first one", (NON_VALIDATING,)),
    "401": (
        "The API key is missing or malformed, or unknown, removed or blocked",
        (INVALID_IN_PAYLOAD, API_EXCEPTION),
    ),
    "402": (
        "A valid request that cannot be done: it exists already, a quota is used up, a closed subaccount",
        (API_EXCEPTION,),
    ),
    "403": (
        "The key lacks this endpoint's permission, or the IP is not on the API allow list",
        (PERMISSION_DENIED,),
    ),
    "404": ("The thing named does not exist", (API_EXCEPTION,)),
    "405": ("The path does not take this HTTP method", (API_EXCEPTION,)),
    "429": (
        "Rate limited: per key and endpoint, a key's sending limit, or failed key checks per IP",
        (LIMIT_CODE,),
    ),
    "500": ("Something unexpected; logged with the request id", (API_EXCEPTION,)),
    "503": ("The database cannot take the write; nothing was stored", (API_EXCEPTION,)),
}

RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("Retry-After", "seconds until the window resets"),
        ("X-RateLimit-Limit", "requests (or messages) allowed in the window"),
        ("X-RateLimit-Remaining", "what is left of it"),
        ("X-RateLimit-Reset", "seconds until the window resets"),
    )
}

FIELD_ERRORS = {
    "type": "object",
    "required": ["fieldname", "message"],
    "properties": {"fieldname": {"type": "string"}, "message": {"type": "string"}},
    "additionalProperties": False,
}
SEND_FIELDS = {
    "succeeded": {"const": 0},
    "failed": {"const": 1},
    "failures": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
    "email_id": {"const": ""},
}


def error_schema(codes: tuple[str, ...], send: bool) -> dict[str, Any]:
    """The `data` of an error envelope: error and error_code, field_validation_errors on a 400, and on
    the send paths the refused-message fields their clients read (decisions.md)."""
    properties: dict[str, Any] = {"error": {"type": "string"}, "error_code": {"enum": list(codes)}}
    required = ["error", "error_code"]
    if NON_VALIDATING in codes:
        properties["field_validation_errors"] = FIELD_ERRORS
        required.append("field_validation_errors")
    if send:
        properties.update(SEND_FIELDS)
        required += list(SEND_FIELDS)
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    """`{"request_id": "<uuid>", "data": …}`: every answer on every status."""
    return {
        "type": "object",
        "required": ["request_id", "data"],
        "properties": {"request_id": {"type": "string", "format": "uuid"}, "data": data},
        "additionalProperties": False,
    }


class Schemas:
    """JSON Schemas of Python types, their Structs gathered into one components table.

    msgspec cannot describe a union of untagged Structs, so unions (also inside a list) are split
    here into `anyOf` and each member is described on its own."""

    def __init__(self) -> None:
        self.leaves: list[Any] = []
        self.request_leaves: list[Any] = []
        self.response_leaves: list[Any] = []

    def shape(self, tp: Any, response: bool = False) -> Any:
        """A placeholder tree for `tp`; `resolve` turns it into schemas once all types are known."""
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            return ("anyOf", [self.shape(member, response) for member in typing.get_args(tp)])
        if typing.get_origin(tp) is list and _is_union(typing.get_args(tp)[0]):
            return ("array", self.shape(typing.get_args(tp)[0], response))
        self.leaves.append(tp)
        (self.response_leaves if response else self.request_leaves).append(tp)
        return ("leaf", len(self.leaves) - 1)

    def resolve(self, shapes: list[Any]) -> tuple[list[Any], dict[str, Any]]:
        schemas, components = msgspec.json.schema_components(self.leaves, ref_template=REF)
        _require_encoded_fields(components, self.response_leaves, self.request_leaves)

        def build(node: Any) -> Any:
            kind, value = node
            if kind == "anyOf":
                return {"anyOf": [build(member) for member in value]}
            if kind == "array":
                return {"type": "array", "items": build(value)}
            return schemas[value]

        return [build(s) for s in shapes], components


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _structs(info: Any, found: dict[type, mi.StructType]) -> None:
    """Every Struct type reachable from a msgspec.inspect type tree."""
    if isinstance(info, mi.StructType):
        if info.cls in found:
            return
        found[info.cls] = info
        for f in info.fields:
            _structs(f.type, found)
    elif isinstance(info, mi.UnionType):
        for t in info.types:
            _structs(t, found)
    elif isinstance(info, mi.DictType):
        _structs(info.value_type, found)
    elif isinstance(info, mi.CollectionType):
        _structs(info.item_type, found)
    elif isinstance(info, mi.TupleType):
        for t in info.item_types:
            _structs(t, found)


def _require_encoded_fields(
    components: dict[str, Any], response_types: list[Any], request_types: list[Any]
) -> None:
    """In a response, a field with a default is still always sent (only UNSET ones may be left out),
    so response Structs list all such fields as required, and no others: a missing or unknown field
    is a broken response.
    A Struct that requests use as well keeps msgspec's reading (defaults are optional)."""
    responses: dict[type, mi.StructType] = {}
    for info in mi.multi_type_info(response_types):
        _structs(info, responses)
    requests: dict[type, mi.StructType] = {}
    for info in mi.multi_type_info(request_types):
        _structs(info, requests)
    request_names = {cls.__name__ for cls in requests}
    for cls, info in responses.items():
        omit_defaults = cls.__struct_config__.omit_defaults  # type: ignore[attr-defined]
        if cls.__name__ in request_names or omit_defaults:
            continue
        always = [f.encode_name for f in info.fields if f.required or not _may_be_unset(f)]
        for schema in components.values():
            props = schema.get("properties")
            if (
                schema.get("title") == cls.__name__
                and props is not None
                and set(props) == {f.encode_name for f in info.fields}
            ):
                schema["required"] = always
                schema["additionalProperties"] = False  # encoded from the Struct: nothing else


def _may_be_unset(f: mi.Field) -> bool:
    return f.default is msgspec.NODEFAULT and f.default_factory is msgspec.NODEFAULT


def _operation(endpoint: Endpoint, path: str, method: str, request: Any, response: Any) -> dict[str, Any]:
    send = endpoint.path in SEND_PATHS
    responses: dict[str, Any] = {
        "200": {"description": "Success", "content": {"application/json": {"schema": envelope(response)}}}
    }
    for status, (text, codes) in ERROR_STATUSES.items():
        responses[status] = {
            "description": text,
            "content": {"application/json": {"schema": envelope(error_schema(codes, send))}},
        }
    responses["429"]["headers"] = RATE_HEADERS
    alias = "" if path == endpoint.path else f" Alias of {endpoint.path}; the same operation."
    body: dict[str, Any] = {"schema": request}
    if endpoint.path in EXAMPLES:
        body["example"] = EXAMPLES[endpoint.path]
    return {
        "summary": endpoint.summary,
        "description": (endpoint.summary + "." + alias).strip(),
        "operationId": method + path.replace("/", "_"),
        "tags": [endpoint.path.strip("/").split("/")[0]],
        "requestBody": {
            "required": False,  # an empty body is read as {} (decisions.md)
            "content": {"application/json": body},
        },
        "responses": responses,
    }


def build_openapi(registry: Registry) -> dict[str, Any]:
    endpoints = sorted(registry.endpoints.values(), key=lambda e: e.path)
    table = Schemas()
    shapes = []
    for e in endpoints:
        shapes += [table.shape(e.request or dict), table.shape(e.response, response=True)]
    schemas, components = table.resolve(shapes)
    paths: dict[str, Any] = {}
    for i, endpoint in enumerate(endpoints):
        request, response = schemas[2 * i], schemas[2 * i + 1]
        for path in (endpoint.path, *endpoint.aliases):
            paths[path] = {
                m.lower(): _operation(endpoint, path, m.lower(), request, response) for m in endpoint.methods
            }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Postroom (SMTP2GO API v3)", "version": __version__},
        "servers": [{"url": "/v3"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Smtp2go-Api-Key",
                    "description": "The API key; it may instead be the body field `api_key`. When a request"
                    " carries more than one key they must agree.",
                },
                "Bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The API key as a bearer token",
                },
            },
        },
        "security": [{"ApiKeyHeader": []}, {"Bearer": []}],
        "paths": dict(sorted(paths.items())),
    }
