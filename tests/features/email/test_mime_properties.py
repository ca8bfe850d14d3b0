"""Property test of /v3/email/mime (Hypothesis): generated messages (tests/mime_strategies.py) are
accepted, stored byte for byte as sent (they carry Message-ID and Date, so nothing is added), and read
back by the capture API as generated, on SQLite and PostgreSQL. One server per backend."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings

from conftest import RunningServer
from mime_strategies import Expected, messages

EXAMPLES = int(os.environ.get("POSTROOM_HYPOTHESIS_SMTP_EXAMPLES", "40"))


@pytest.fixture
def quiet(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server(endpoint_rate_limits=False)


def test_generated_messages_are_accepted_and_stored_as_sent(quiet: RunningServer) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages())
    def send(case: tuple[bytes, Expected, list[tuple[str, str]]]) -> None:
        raw, expected, _ = case
        r = quiet.post("email/mime", {"mime_email": base64.b64encode(raw).decode()})
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["succeeded"] == 1, data
        with quiet.client(headers={"X-Smtp2go-Api-Key": quiet.key}) as c:
            stored = c.get(f"/api/v1/messages/{data['email_id']}/raw").content
            detail = c.get(f"/api/v1/messages/{data['email_id']}").json()
        assert stored == raw
        assert detail["subject"] == expected.subject
        assert detail["to"] == [addr for _, addr in expected.to]
        assert detail["envelope"]["mail_from"] == expected.sender[1]
        assert detail["text"] == (expected.text or "")
        assert detail["html"] == (expected.html or "")
        assert [(a["filename"], a["size"]) for a in detail["attachments"]] == [
            (f.filename, len(f.content)) for f in expected.files
        ]

    send()
