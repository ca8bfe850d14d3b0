"""Removing a sender domain while its mail is still queued is allowed, and that mail is still delivered.

The smarthost (a scripted peer on 127.0.0.1) defers the first attempt, the domain is removed while the
delivery waits for its retry, then the peer accepts: the retry delivers the message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from peers import ScriptedPeer

from conftest import RunningServer
from envelope_checks import ok


async def _post(server: RunningServer, path: str, body: dict[str, Any]) -> Any:
    return ok(await asyncio.to_thread(server.post, path, body))


async def _events(server: RunningServer, email_id: str) -> list[str]:
    data = await _post(server, "activity/search", {"email_id": [email_id]})
    return [e["event"] for e in data["events"]]


async def _wait_for(server: RunningServer, email_id: str, event: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while event not in await _events(server, email_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event} event: {await _events(server, email_id)}")
        await asyncio.sleep(0.1)


async def test_queued_mail_of_a_removed_domain_is_still_delivered(
    make_server: Callable[..., RunningServer],
) -> None:
    async with ScriptedPeer() as peer:
        peer.script.data = "451 4.3.0 try again later"
        server = make_server(
            delivery_mode="relay",
            relay_url=f"smtp://127.0.0.1:{peer.port}?tls=none",
            retry_schedule="1s",
            return_path_domain="rp.example.test",
            endpoint_rate_limits=False,  # the test polls /activity/search
        )
        await _post(server, "domain/add", {"domain": "example.test", "auto_verify": False})
        sent = await _post(
            server,
            "email/send",
            {"sender": "app@example.test", "to": ["user@dest.test"], "subject": "s", "text_body": "b"},
        )
        email_id = sent["email_id"]
        await _wait_for(server, email_id, "soft-bounced")
        assert await _post(server, "domain/remove", {"domain": "example.test"}) == {"domains": []}
        peer.script.data = ""  # the next attempt is accepted
        await _wait_for(server, email_id, "delivered")
        assert any("user@dest.test" in m.rcpt_tos for m in peer.messages)
        viewed = await _post(server, "domain/view", {})
        assert viewed["domains"] == []
