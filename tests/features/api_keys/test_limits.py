"""Limits through a real server: a key's sending limit, per-endpoint request limits, failed key checks per IP.

Every refusal is a 429 REQ_LIMIT_EXCEEDED envelope with X-RateLimit-* and Retry-After.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import smtp2go.core
from smtp2go.core import Smtp2goClient

from conftest import TEST_KEY, RunningServer
from envelope_checks import ok

REQ_LIMIT = "E_ApiResponseCodes.REQ_LIMIT_EXCEEDED"
SEND = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "subject", "text_body": "x"}
MIME = base64.b64encode(b"From: s@example.com\r\nTo: t@example.com\r\nSubject: s\r\n\r\nx\r\n").decode()


def _limited_key(server: RunningServer, value: int, period: str) -> str:
    body = {"custom_ratelimit": True, "custom_ratelimit_value": value, "custom_ratelimit_period": period}
    [added] = ok(server.post("api_keys/add", {**body, "endpoints": ["/email/*"]}))
    key: str = added["api_key"]
    return key


def _limits(r: httpx.Response) -> tuple[int, int, int]:
    h = r.headers
    return int(h["x-ratelimit-limit"]), int(h["x-ratelimit-remaining"]), int(h["x-ratelimit-reset"])


def _refused(r: httpx.Response, remaining: int = 0) -> dict[str, Any]:
    assert r.status_code == 429, r.text
    data: dict[str, Any] = r.json()["data"]
    assert data["error_code"] == REQ_LIMIT and "try again in" in data["error"]
    assert int(r.headers["retry-after"]) >= 1 and int(r.headers["x-ratelimit-remaining"]) == remaining
    return data


def test_a_keys_sending_limit_counts_messages(server: RunningServer) -> None:
    key = _limited_key(server, 2, "0:00:10")
    first = server.post("email/send", SEND, key=key)
    assert ok(first)["succeeded"] == 1
    limit, remaining, reset = _limits(first)
    assert (limit, remaining) == (2, 1) and 1 <= reset <= 10
    second = server.post("email/mime", {"mime_email": MIME}, key=key)
    assert ok(second)["succeeded"] == 1 and _limits(second)[:2] == (2, 0)
    for path, body in (("email/send", SEND), ("email/mime", {"mime_email": MIME})):
        data = _refused(server.post(path, body, key=key))
        assert (data["succeeded"], data["failed"], data["email_id"]) == (0, 1, "")  # send-shaped refusal
        assert data["failures"] == [data["error"]] and "sending limit of 2 emails" in data["error"]
    r = server.post("email/send", SEND)  # the bootstrap key has no limit, and no headers
    assert ok(r)["succeeded"] == 1 and "x-ratelimit-limit" not in r.headers


def test_a_batch_counts_its_items(server: RunningServer) -> None:
    key = _limited_key(server, 3, "1 hour")
    r = server.post("email/batch", {"emails": [SEND, SEND]}, key=key)
    assert [item["succeeded"] for item in ok(r)] == [1, 1] and _limits(r)[:2] == (3, 1)
    _refused(server.post("email/batch", {"emails": [SEND, SEND]}, key=key), remaining=1)  # none counted
    assert _limits(server.post("email/send", SEND, key=key))[:2] == (3, 0)
    _refused(server.post("email/send", SEND, key=key))


def test_a_lowered_limit_applies_to_the_next_message(server: RunningServer) -> None:
    key = _limited_key(server, 100, "1 day")
    assert ok(server.post("email/send", SEND, key=key))["succeeded"] == 1
    ok(server.patch("api_keys/edit", {"id": key, "custom_ratelimit_value": 1}))
    _refused(server.post("email/send", SEND, key=key))
    ok(server.patch("api_keys/edit", {"id": key, "custom_ratelimit": False}))
    r = server.post("email/send", SEND, key=key)
    assert ok(r)["succeeded"] == 1 and "x-ratelimit-limit" not in r.headers


def test_api_keys_add_is_limited_to_5_a_minute_per_key(server: RunningServer) -> None:
    for n in range(5):
        r = server.post("api_keys/add", {})
        assert ok(r) and _limits(r)[:2] == (5, 4 - n) and 55 <= _limits(r)[2] <= 60
    data = _refused(server.post("api_keys/add", {}))
    assert "rate limited to 5 requests every 1 minute" in data["error"]
    other = server.account_key(["*"], same=True)
    assert ok(server.post("api_keys/add", {}, key=other))  # counted per key
    view = server.post("api_keys/view", {})
    assert len(ok(view)) == 8 and "x-ratelimit-limit" not in view.headers  # other endpoints: no limit


@pytest.mark.parametrize(("path", "limit"), [("activity/search", 60), ("email/search", 20)])
def test_search_endpoints_are_limited_per_key(server: RunningServer, path: str, limit: int) -> None:
    with server.client() as c:
        headers = {"X-Smtp2go-Api-Key": server.key}
        answers = [c.post("/v3/" + path, json={}, headers=headers) for _ in range(limit + 1)]
    assert [r.status_code for r in answers] == [200] * limit + [429]
    assert _limits(answers[0])[:2] == (limit, limit - 1)
    _refused(answers[-1])


def test_rapid_wrong_keys_from_one_ip_are_limited_without_locking_out_a_good_key(
    server: RunningServer,
) -> None:
    good = server.account_key(["/email/send"], same=True)  # never used before the flood
    statuses: list[int] = []
    with server.client() as c:
        for n in range(1000):
            wrong = f"api-{n:032X}"
            statuses.append(c.post("/v3/email/send", json={**SEND, "api_key": wrong}).status_code)
        statuses.append(c.post("/v3/email/send", json={**SEND, "api_key": "malformed"}).status_code)
        refused = c.post(
            "/v3/api_keys/permissions", json={}, headers={"X-Smtp2go-Api-Key": "api-" + "E" * 32}
        )
        assert ok(c.post("/v3/email/send", json={**SEND, "api_key": good}))["succeeded"] == 1
        assert ok(c.post("/v3/email/send", json={**SEND, "api_key": TEST_KEY}))["succeeded"] == 1
    assert statuses[:50] == [401] * 50 and set(statuses[50:]) == {429}
    data = _refused(refused)
    assert "invalid API key" in data["error"] and "failures" not in data


@pytest.fixture
def pointed(server: RunningServer) -> Iterator[RunningServer]:
    """The official Python client's API root pointed at the server (reference §9)."""
    original = smtp2go.core.API_ROOT
    smtp2go.core.API_ROOT = server.v3
    try:
        yield server
    finally:
        smtp2go.core.API_ROOT = original


def test_the_python_client_reads_the_headers(pointed: RunningServer) -> None:
    key = _limited_key(pointed, 1, "1 hour")
    client = Smtp2goClient(api_key=key)
    fields = {"sender": "s@example.com", "recipients": ["t@example.com"], "subject": "s", "text": "x"}
    sent = client.send(**fields)
    assert sent.success and sent.status_code == 200
    assert (sent.rate_limit.limit, sent.rate_limit.remaining) == (1, 0)
    assert 3590 <= sent.rate_limit.reset <= 3600
    refused = client.send(**fields)
    assert refused.success is False and refused.status_code == 429
    assert (refused.rate_limit.limit, refused.rate_limit.remaining) == (1, 0) and refused.rate_limit.reset > 0
    assert refused.errors and "sending limit" in refused.errors[0]
    unlimited = Smtp2goClient(api_key=pointed.key).send(**fields)
    assert unlimited.success and tuple(unlimited.rate_limit) == (0, 0, 0)
