"""Rate limits shared by every process through Redis (`redis_url`): two servers on one database, as two
processes would be, count in the same windows; without Redis each counts its own.
"""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from collections.abc import Callable

import pytest

from conftest import RunningServer
from envelope_checks import ok
from postroom.storage.shared_windows import RedisWindows

Make = Callable[..., RunningServer]
SEND = {"sender": "s@example.com", "to": ["t@example.com"], "subject": "subject", "text_body": "x"}
REQ_LIMIT = "E_ApiResponseCodes.REQ_LIMIT_EXCEEDED"


def _limited_key(server: RunningServer, value: int) -> str:
    body = {"custom_ratelimit": True, "custom_ratelimit_value": value, "custom_ratelimit_period": "1 hour"}
    [added] = ok(server.post("api_keys/add", {**body, "endpoints": ["/email/*"]}))
    key: str = added["api_key"]
    return key


def test_a_keys_sending_limit_holds_across_servers(make_server: Make, redis_url: str) -> None:
    first, second = make_server(redis_url=redis_url), make_server(redis_url=redis_url)
    key = _limited_key(first, 3)
    answers = [(first, second)[n % 2].post("email/send", SEND, key=key) for n in range(5)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers[:3]] == ["2", "1", "0"]
    assert answers[3].json()["data"]["error_code"] == REQ_LIMIT


def test_an_endpoint_limit_holds_across_servers(make_server: Make, redis_url: str) -> None:
    first, second = make_server(redis_url=redis_url), make_server(redis_url=redis_url)
    statuses = [(first, second)[n % 2].post("api_keys/add", {}).status_code for n in range(6)]
    assert statuses == [200] * 5 + [429]  # /api_keys/add: 5 a minute per key


def test_without_redis_each_server_counts_its_own(make_server: Make) -> None:
    first, second = make_server(), make_server()
    key = _limited_key(first, 1)
    assert first.post("email/send", SEND, key=key).status_code == 200
    assert second.post("email/send", SEND, key=key).status_code == 200
    assert first.post("email/send", SEND, key=key).status_code == 429


def test_an_unreachable_redis_falls_back_to_counting_in_the_process(
    make_server: Make, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    key = _limited_key(server, 2)
    statuses = [server.post("email/send", SEND, key=key).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert any("Redis is unreachable" in r.getMessage() for r in caplog.records)


def test_an_smtp_users_limit_holds_across_servers(make_server: Make, redis_url: str) -> None:
    first, second = make_server(redis_url=redis_url), make_server(redis_url=redis_url)
    user = {"username": "limited-user", "email_password": "a-long-password-1", "custom_ratelimit": True}
    ok(
        first.post(
            "users/smtp/add", {**user, "custom_ratelimit_value": 2, "custom_ratelimit_period": "1 hour"}
        )
    )
    codes = []
    for n in range(3):
        server = (first, second)[n % 2]
        with smtplib.SMTP("127.0.0.1", server.app.state.smtp.ports[0], timeout=10) as client:
            client.login("limited-user", "a-long-password-1")
            codes.append(client.mail("s@example.com")[0])
    assert codes[:2] == [250, 250] and codes[2] >= 400


async def test_concurrent_takes_never_overrun_and_the_window_expires(redis_url: str) -> None:
    windows = RedisWindows(redis_url, uuid.uuid4().hex)
    try:
        taken = await asyncio.gather(*(windows.take("w", 1, 10, 0.5) for _ in range(50)))
        assert sum(t.fitted for t in taken) == 10
        assert max(t.used for t in taken) == 10 and all(0 < t.reset <= 0.5 for t in taken)
        assert not (await windows.take("w", 1, 10, 0.5)).fitted
        await asyncio.sleep(0.6)
        again = await windows.take("w", 3, 10, 0.5)
        assert again.fitted and again.used == 3
        assert not (await windows.take("other", 11, 10, 60)).fitted  # more than the limit never fits
    finally:
        await windows.close()
