"""/v3/openapi.json describes every served path, alias and method, and every answer a client can get."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import RunningServer
from postroom.api.examples import EXAMPLES
from postroom.bodies import convert
from postroom.errors import NON_VALIDATING


@pytest.fixture
def spec(server: RunningServer) -> dict[str, Any]:
    with server.client() as c:
        r = c.get("/v3/openapi.json")
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def test_every_path_alias_and_method_is_an_operation(server: RunningServer, spec: dict[str, Any]) -> None:
    registry = server.app.state.registry
    expected = {
        (path, method.lower())
        for e in registry.endpoints.values()
        for path in (e.path, *e.aliases)
        for method in e.methods
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert documented == expected
    assert ("/smtp/patch", "patch") in documented and ("/ip_allowlist/view", "post") in documented
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_operation_documents_the_error_envelope_of_each_status(spec: dict[str, Any]) -> None:
    for path, item in spec["paths"].items():
        for op in item.values():
            responses = op["responses"]
            assert set(responses) == {"200", "400", "401", "402", "403", "404", "405", "429", "500", "503"}
            data = responses["400"]["content"]["application/json"]["schema"]["properties"]["data"]
            assert {"error", "error_code", "field_validation_errors"} <= set(data["required"]), path
            assert data["properties"]["error_code"]["enum"] == [NON_VALIDATING]
            ok = responses["200"]["content"]["application/json"]["schema"]
            assert ok["required"] == ["request_id", "data"]
            assert "Retry-After" in responses["429"]["headers"]


def test_response_fields_that_are_always_sent_are_required(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    # SendResult's fields all have defaults, yet every answer carries them; schedule_id only when scheduled.
    assert schemas["SendResult"]["required"] == ["succeeded", "failed", "failures", "email_id"]
    send_ok = spec["paths"]["/email/send"]["post"]["responses"]["200"]["content"]["application/json"]
    refs = {s["$ref"].rsplit("/", 1)[1] for s in send_ok["schema"]["properties"]["data"]["anyOf"]}
    assert refs == {"SendResult", "FastAcceptResult"}
    send_error = spec["paths"]["/email/send"]["post"]["responses"]["401"]["content"]["application/json"]
    assert {"succeeded", "failed", "failures", "email_id"} <= set(
        send_error["schema"]["properties"]["data"]["required"]
    )


def test_security_schemes_name_the_header_and_bearer(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "in": "header", "name": "X-Smtp2go-Api-Key"}
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert spec["security"] == [{"ApiKeyHeader": []}, {"Bearer": []}]


def test_examples_are_valid_requests_that_succeed(server: RunningServer) -> None:
    registry = server.app.state.registry
    for path, body in EXAMPLES.items():
        endpoint = registry.endpoints[path]
        assert endpoint.request is not None
        convert(body, endpoint.request)
    r = server.post("email/send", EXAMPLES["/email/send"])
    assert r.status_code == 200 and r.json()["data"]["succeeded"] == 1, r.text
    r = server.post("email/mime", EXAMPLES["/email/mime"])
    assert r.status_code == 200 and r.json()["data"]["succeeded"] == 1, r.text
    items = server.post("email/batch", EXAMPLES["/email/batch"]).json()["data"]
    assert [item["succeeded"] for item in items] == [1, 0]
