"""Posting one notification: the WebhookSender seam and its httpx implementation.

HttpxSender checks the target against the SSRF policy at connect time and connects to the very
address it checked (the Host header and TLS name stay the URL's), so a DNS answer that changes
between the check and the connection (rebinding) reaches nothing it should not. A 2xx answer is
success; anything else, no answer within the timeout, or a connection error is a failed attempt.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx

from postroom import __version__
from postroom.dispatch.outbox import Attempt
from postroom.dispatch.targets import TargetRefused, parse_target, vetted

ANSWER_BYTES = 1024
CONNECTIONS = 16  # posts at once (httpx slows as its pool grows: 472/s at 10, 185/s at 200 on this box)


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt: ...

    async def close(self) -> None: ...


def _userinfo_auth(url: str) -> str:
    """Credentials written in the URL (`https://user:pass@host/`) as a Basic Authorization value."""
    parts = urlsplit(url)
    if parts.username is None:
        return ""
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class HttpxSender:
    """Pooled HTTP/1.1 keep-alive connections; one attempt = one POST of at most `timeout` seconds."""

    def __init__(self, allow_private: bool, timeout: float = 10.0) -> None:
        self._allow_private = allow_private
        self._timeout = timeout
        self._slots = asyncio.Semaphore(CONNECTIONS)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
            follow_redirects=False,
            trust_env=False,
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        async with self._slots:
            started = time.monotonic()
            try:
                return await asyncio.wait_for(self._post(url, body, headers, started), self._timeout)
            except TimeoutError:
                return Attempt(None, _ms(started), error=f"no answer within {self._timeout:g} s")

    async def _post(self, url: str, body: bytes, headers: dict[str, str], started: float) -> Attempt:
        try:
            target = parse_target(url)
            addresses = await vetted(target, self._allow_private)
        except TargetRefused as exc:
            return Attempt(None, _ms(started), error=str(exc))
        except OSError as exc:
            return Attempt(None, _ms(started), error=f"the host does not resolve ({exc})")
        sent = {"User-Agent": f"Postroom/{__version__}", **headers}
        auth = _userinfo_auth(url)
        if auth and "Authorization" not in sent:
            sent["Authorization"] = auth
        ip = sorted(addresses, key=lambda a: a.version)[0]  # IPv4 first, as most receivers listen
        netloc = f"[{ip}]" if ip.version == 6 else str(ip)
        pinned = f"{target.scheme}://{netloc}:{target.port}{target.path}"
        sent["Host"] = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            request = self._client.build_request(
                "POST", pinned, content=body, headers=sent, extensions=extensions
            )
            response = await self._client.send(request, stream=True)
            try:
                start = await _first_bytes(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            return Attempt(None, _ms(started), error=f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return Attempt(
                None, _ms(started), error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            )
        return Attempt(response.status_code, _ms(started), start.decode("utf-8", "replace"))

    async def close(self) -> None:
        await self._client.aclose()


async def _first_bytes(response: httpx.Response) -> bytes:
    data = b""
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= ANSWER_BYTES:
            break
    return data[:ANSWER_BYTES]


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
