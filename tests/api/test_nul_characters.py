"""A NUL character in any field of any endpoint is a 400 naming the field, never a 500 (PostgreSQL
text cannot hold NUL; before this, ten endpoints answered 500 on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from conftest import RunningServer

NON_VALIDATING = "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD"


@pytest.fixture
def quiet(make_server: Any) -> RunningServer:
    server: RunningServer = make_server(endpoint_rate_limits=False)
    return server


def test_every_field_of_every_endpoint_refuses_nul(quiet: RunningServer) -> None:
    registry = quiet.app.state.registry
    tried = 0
    with quiet.client() as client:
        for endpoint in registry.endpoints.values():
            if endpoint.request is None:
                continue
            for f in msgspec.structs.fields(endpoint.request):
                for value in ("a\x00b", ["a\x00b"], {"k": "a\x00b"}):
                    body = {"api_key": quiet.key, f.encode_name: value}
                    r = client.request(endpoint.methods[0], "/v3" + endpoint.path, json=body)
                    assert r.status_code < 500, (endpoint.path, f.encode_name, r.text)
                    tried += 1
                r = client.request(
                    endpoint.methods[0],
                    "/v3" + endpoint.path,
                    json={"api_key": quiet.key, f.encode_name: "a\x00"},
                )
                data = r.json()["data"]
                assert r.status_code == 400, (endpoint.path, f.encode_name, r.text)
                assert data["error_code"] == NON_VALIDATING
                assert data["field_validation_errors"]["fieldname"] == f.encode_name, (endpoint.path, data)
    assert tried > 300  # the walk covers the whole table


def test_nested_nul_names_the_top_level_field(quiet: RunningServer) -> None:
    body = {
        "sender": "s@example.com",
        "to": ["t@example.com"],
        "subject": "s",
        "text_body": "x",
        "custom_headers": [{"header": "X-A", "value": "1\x002"}],
    }
    r = quiet.post("email/send", body)
    assert r.status_code == 400
    assert r.json()["data"]["field_validation_errors"]["fieldname"] == "custom_headers"
    assert quiet.post("email/send", {**body, "custom_headers": []}).status_code == 200
