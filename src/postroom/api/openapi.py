"""GET /v3/openapi.json: an OpenAPI 3.1 document generated from the Structs that validate requests."""

from __future__ import annotations

from typing import Any

import msgspec

from postroom import __version__
from postroom.api.registry import Registry

REF = "#/components/schemas/{name}"


def _envelope(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["request_id", "data"],
        "properties": {"request_id": {"type": "string", "format": "uuid"}, "data": schema},
    }


ERROR = {
    "type": "object",
    "required": ["error", "error_code"],
    "properties": {
        "error": {"type": "string"},
        "error_code": {"type": "string"},
        "field_validation_errors": {
            "type": "object",
            "properties": {"fieldname": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


def build_openapi(registry: Registry) -> dict[str, Any]:
    endpoints = sorted(registry.endpoints.values(), key=lambda e: e.path)
    types: list[Any] = []
    for e in endpoints:
        types += [e.request or dict, e.response]
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    components["Error"] = ERROR
    paths: dict[str, Any] = {}
    for endpoint, (request_schema, response_schema) in zip(
        endpoints, zip(schemas[::2], schemas[1::2], strict=True), strict=True
    ):
        operation = {
            "summary": endpoint.summary,
            "operationId": endpoint.path.strip("/").replace("/", "_"),
            "requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}},
            "responses": {
                "200": {
                    "description": "Success",
                    "content": {"application/json": {"schema": _envelope(response_schema)}},
                },
                "default": {
                    "description": "Error",
                    "content": {
                        "application/json": {"schema": _envelope({"$ref": REF.format(name="Error")})}
                    },
                },
            },
        }
        for path in (endpoint.path, *endpoint.aliases):
            paths[path] = {m.lower(): operation for m in endpoint.methods}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Postroom (SMTP2GO API v3)", "version": __version__},
        "servers": [{"url": "/v3"}],
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Smtp2go-Api-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"ApiKeyHeader": []}, {"Bearer": []}],
        "paths": paths,
    }
