"""Every route of the application passes the central checks: no key → 401, a key without the
permission → 403, on every canonical path and every alias, and on the capture API."""

from __future__ import annotations

from typing import Any

from postroom.api.access import ALWAYS_ALLOWED


def _routes(server: Any) -> list[tuple[str, str, str]]:
    """(method, path, canonical) for every served /v3 path and alias."""
    registry = server.app.state.registry
    return [
        (method, path, endpoint.path)
        for endpoint in registry.endpoints.values()
        for path in (endpoint.path, *endpoint.aliases)
        for method in endpoint.methods
    ]


def test_every_v3_route_refuses_a_missing_key_and_a_key_without_the_permission(server: Any) -> None:
    routes = _routes(server)
    assert len(routes) >= 58  # the walk covers the whole table, not a sample
    narrow = server.account_key(["/email/send"], same=True)
    with server.client() as client:
        for method, path, canonical in routes:
            bare = client.request(method, "/v3" + path, json={})
            # 401; after 50 missing keys a minute from this IP the failed-key limiter answers 429 instead
            assert bare.status_code in (401, 429), (method, path, bare.text)
            if canonical in ALWAYS_ALLOWED or canonical == "/email/send":
                continue
            refused = client.request(method, "/v3" + path, json={"api_key": narrow})
            assert refused.status_code == 403, (method, path, refused.text)


def test_the_capture_api_is_guarded_too(server: Any) -> None:
    narrow = server.account_key(["/email/send"], same=True)
    with server.client() as client:
        for method, path in (("GET", "/api/v1/messages"), ("DELETE", "/api/v1/messages")):
            assert client.request(method, path).status_code == 401
            headers = {"X-Smtp2go-Api-Key": narrow}
            assert client.request(method, path, headers=headers).status_code == 403
