"""The envelope and error mapping of decisions.md, on every status, and authentication."""

from __future__ import annotations

import uuid

import httpx
import pytest

from conftest import RunningServer
from postroom.features.api_keys.service import create_key, ensure_master_account
from postroom.features.endpoints import Endpoint

SEND = {"sender": "a@example.com", "to": ["b@example.com"], "subject": "s", "text_body": "t"}


def _assert_error(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    uuid.UUID(body["request_id"])
    assert body["data"]["error_code"] == code
    assert isinstance(body["data"]["error"], str) and body["data"]["error"]
    return body["data"]  # type: ignore[no-any-return]


def test_unknown_path_and_planned_endpoint_are_404_envelopes(server: RunningServer) -> None:
    _assert_error(server.post("no/such/thing", {}), 404, "E_ApiResponseCodes.API_EXCEPTION")
    data = _assert_error(server.post("archive/search", {}), 404, "E_ApiResponseCodes.API_EXCEPTION")
    assert "not available" in str(data["error"])
    _assert_error(server.post("archive/view", {}), 404, "E_ApiResponseCodes.API_EXCEPTION")  # planned alias
    with server.client() as c:
        _assert_error(c.get("/nothing-here"), 404, "E_ApiResponseCodes.API_EXCEPTION")


def test_wrong_method_is_405(server: RunningServer) -> None:
    with server.client() as c:
        _assert_error(c.get("/v3/email/send"), 405, "E_ApiResponseCodes.API_EXCEPTION")
        _assert_error(c.put("/v3/activity/search", json={}), 405, "E_ApiResponseCodes.API_EXCEPTION")
        _assert_error(c.post("/healthz"), 405, "E_ApiResponseCodes.API_EXCEPTION")
        # RFC 9110 §15.5.6: a 405 names the methods the path takes (schemathesis checks it)
        assert c.get("/v3/email/send").headers["allow"] == "POST"
        assert c.delete("/v3/smtp/patch").headers["allow"] == "POST, PATCH"
        assert set(c.post("/healthz").headers["allow"].split(", ")) == {"GET", "HEAD"}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"42", b"null"])
def test_malformed_or_non_object_json_is_400(server: RunningServer, body: bytes) -> None:
    with server.client() as c:
        r = c.post("/v3/email/send", content=body, headers={"X-Smtp2go-Api-Key": server.key})
    data = _assert_error(r, 400, "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD")
    assert data["field_validation_errors"] == {
        "fieldname": "body",
        "message": data["field_validation_errors"]["message"],
    }  # type: ignore[index]


def test_body_over_limit_is_400(server: RunningServer) -> None:
    big = b'{"search": "' + b"x" * (1024 * 1024) + b'"}'
    with server.client() as c:
        r = c.post("/v3/activity/search", content=big, headers={"X-Smtp2go-Api-Key": server.key})
    _assert_error(r, 400, "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD")


def test_email_body_over_50_mib_is_400_and_nothing_stored(server: RunningServer) -> None:
    body = (
        b'{"sender":"a@example.com","to":["b@example.com"],"subject":"s","text_body":"'
        + b"x" * (50 * 1024 * 1024)
        + b'"}'
    )
    with server.client() as c:
        r = c.post("/v3/email/send", content=body, headers={"X-Smtp2go-Api-Key": server.key})
        _assert_error(r, 400, "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD")
        listed = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key}).json()
    assert listed["messages"] == []


def test_unexpected_exception_is_500_envelope(server: RunningServer) -> None:
    async def explode(call: object) -> None:
        raise RuntimeError("boom")

    server.app.state.registry.add(Endpoint("/test/explode", explode, None, None, "test only"))
    _assert_error(server.post("test/explode", {}), 500, "E_ApiResponseCodes.API_EXCEPTION")


def test_content_type_is_irrelevant_and_empty_body_is_an_empty_object(server: RunningServer) -> None:
    import json

    with server.client() as c:
        r = c.post(
            "/v3/email/send",
            content=json.dumps({"api_key": server.key, **SEND}),
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code == 200 and r.json()["data"]["succeeded"] == 1
        r = c.post("/v3/activity/search", headers={"X-Smtp2go-Api-Key": server.key})
        assert r.status_code == 200 and "events" in r.json()["data"]


def test_key_in_body_header_or_bearer(server: RunningServer) -> None:
    assert server.post("email/send", SEND).status_code == 200
    with server.client() as c:
        assert (
            c.post("/v3/email/send", json=SEND, headers={"X-Smtp2go-Api-Key": server.key}).status_code == 200
        )
        assert (
            c.post("/v3/email/send", json=SEND, headers={"Authorization": f"Bearer {server.key}"}).status_code
            == 200
        )
        r = c.post(
            "/v3/email/send",
            json={"api_key": server.key, **SEND},
            headers={"Authorization": "Bearer api-FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
        )
        _assert_error(r, 401, "E_ApiResponseCodes.API_EXCEPTION")


def test_missing_malformed_and_unknown_keys_are_401(server: RunningServer) -> None:
    _assert_error(server.post("email/send", SEND, key=None), 401, "E_ApiResponseCodes.INVALID_IN_PAYLOAD")
    _assert_error(
        server.post("email/send", SEND, key="not-a-key"), 401, "E_ApiResponseCodes.INVALID_IN_PAYLOAD"
    )
    _assert_error(
        server.post("email/send", SEND, key="api-" + "0" * 32), 401, "E_ApiResponseCodes.API_EXCEPTION"
    )


def test_permission_is_checked_on_the_canonical_path(server: RunningServer) -> None:
    db = server.app.state.services.db
    key = db.write_sync(lambda c: create_key(c, ensure_master_account(c), ["/activity/*"]))
    _assert_error(
        server.post("email/send", SEND, key=key), 403, "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
    )
    assert server.post("activity/search", {}, key=key).status_code == 200
    with server.client() as c:
        r = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": key})
    _assert_error(r, 403, "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED")


def test_healthz_and_openapi(server: RunningServer) -> None:
    with server.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        spec = c.get("/v3/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    send = spec["paths"]["/email/send"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    ref = send["$ref"].rsplit("/", 1)[1]
    schema = spec["components"]["schemas"][ref]
    assert {"sender", "to"} <= set(schema["required"])
    assert schema["properties"]["to"]["maxItems"] == 100
    assert {"/email/send", "/email/mime", "/email/batch", "/activity/search", "/email/search"} <= set(
        spec["paths"]
    )


def test_send_errors_also_carry_failures_for_clients(server: RunningServer) -> None:
    data = _assert_error(
        server.post("email/send", SEND, key=None), 401, "E_ApiResponseCodes.INVALID_IN_PAYLOAD"
    )
    assert data["succeeded"] == 0 and data["failed"] == 1 and data["email_id"] == ""
    assert data["failures"] == [data["error"]]
    data = _assert_error(
        server.post("email/send", {**SEND, "sender": "x"}),
        400,
        "E_ApiResponseCodes.NON_VALIDATING_IN_PAYLOAD",
    )
    assert data["failures"] and data["field_validation_errors"]["fieldname"] == "sender"  # type: ignore[index]
    assert "failures" not in _assert_error(
        server.post("activity/search", {}, key=None), 401, "E_ApiResponseCodes.INVALID_IN_PAYLOAD"
    )


def test_api_allow_list_refuses_other_ips_with_403(server: RunningServer) -> None:
    assert server.post("ip_allow_list/add", {"ip_address": "10.0.0.0/8", "type": "api"}).status_code == 200
    assert server.post("ip_allow_list", {"enabled": True, "type": "api"}).status_code == 200
    denied = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
    data = _assert_error(server.post("email/send", SEND), 403, denied)
    assert "127.0.0.1" in str(data["error"])
    with server.client() as c:
        r = c.get("/api/v1/messages", headers={"X-Smtp2go-Api-Key": server.key})
    _assert_error(r, 403, "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED")
