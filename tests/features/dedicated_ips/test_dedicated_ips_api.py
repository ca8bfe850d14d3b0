"""/v3/dedicated_ips/view, and `ip_pool` settings checked against the configured pools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from conftest import RunningServer
from envelope_checks import error, invalid, ok
from postroom.api import access
from postroom.storage.tables import accounts

PERMISSION_DENIED = "E_ApiResponseCodes.ENDPOINT_PERMISSION_DENIED"
POOLS = "main=127.0.0.2,127.0.0.3;bulk=127.0.0.4"

Make = Callable[..., RunningServer]


@pytest.fixture(autouse=True)
def _no_endpoint_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "ENDPOINT_LIMITS", {})


def test_view_lists_the_configured_pools_in_id_order(make_server: Make) -> None:
    server = make_server(ip_pools=POOLS)
    assert ok(server.post("dedicated_ips/view", {})) == [
        {"id": 1, "name": "main", "ip_addresses": ["127.0.0.2", "127.0.0.3"]},
        {"id": 2, "name": "bulk", "ip_addresses": ["127.0.0.4"]},
    ]
    with server.client() as c:  # the key in a header, no body at all
        r = c.post("/v3/dedicated_ips/view", headers={"X-Smtp2go-Api-Key": server.key})
    assert ok(r) == ok(server.post("dedicated_ips/view", {}))


def test_view_without_pools_is_an_empty_list(server: RunningServer) -> None:
    assert ok(server.post("dedicated_ips/view", {})) == []


def test_view_needs_its_permission(server: RunningServer) -> None:
    narrow = server.account_key(["/email/send"], same=True)
    error(server.post("dedicated_ips/view", {}, key=narrow), 403, PERMISSION_DENIED)
    allowed = server.account_key(["/dedicated_ips/view"], same=True)
    assert ok(server.post("dedicated_ips/view", {}, key=allowed)) == []
    assert "/dedicated_ips/view" in ok(server.post("api_keys/permissions", {}))
    assert ok(server.post("api_keys/permissions", {}, key=allowed)) == [
        "/api_keys/permissions",
        "/dedicated_ips/view",
    ]
    [added] = ok(server.post("api_keys/add", {"endpoints": ["/dedicated_ips/view"]}))
    assert added["endpoints"] == ["/dedicated_ips/view"]


def _pool_error(r: Any) -> str:
    invalid(r, "ip_pool")
    message: str = r.json()["data"]["field_validation_errors"]["message"]
    return message


def test_keys_and_smtp_users_may_only_name_configured_pools(make_server: Make) -> None:
    server = make_server(ip_pools=POOLS)
    message = _pool_error(server.post("api_keys/add", {"ip_pool": 3}))
    assert "IP pool 3" in message and "configured pool ids are 1, 2" in message
    _pool_error(server.post("api_keys/add", {"ip_pool": 0}))
    [key] = ok(server.post("api_keys/add", {"ip_pool": 2}))
    assert key["ippool"] == 2
    _pool_error(server.post("api_keys/edit", {"id": key["username"], "ip_pool": 5}))
    _pool_error(server.patch("api_keys/edit", {"id": key["username"], "ip_pool": 5}))
    [patched] = ok(server.patch("api_keys/edit", {"id": key["username"], "description": "other"}))
    assert patched["ippool"] == 2  # a PATCH without ip_pool keeps it
    [edited] = ok(server.post("api_keys/edit", {"id": key["username"]}))
    assert edited["ippool"] is None  # POST edit resets it: the default address

    message = _pool_error(server.post("users/smtp/add", {"username": "pooled-user", "ip_pool": 9}))
    assert "configured pool ids are 1, 2" in message
    ok(server.post("users/smtp/add", {"username": "pooled-user", "ip_pool": 1}))
    _pool_error(server.post("users/smtp/edit", {"username": "pooled-user", "ip_pool": 3}))
    _pool_error(server.patch("users/smtp/edit", {"username": "pooled-user", "ip_pool": 3}))
    ok(server.patch("users/smtp/edit", {"username": "pooled-user", "ip_pool": 2}))


def test_without_pools_any_ip_pool_is_refused(server: RunningServer) -> None:
    message = _pool_error(server.post("api_keys/add", {"ip_pool": 1}))
    assert "no IP pools are configured" in message
    _pool_error(server.post("users/smtp/add", {"username": "pooled-user", "ip_pool": 1}))
    _pool_error(server.post("subaccount/add", {"fullname": "Pooled", "ip_pool": 1}))
    ok(server.post("api_keys/add", {"ip_pool": None}))  # null is absent: the default address


def test_subaccounts_may_only_name_configured_pools(make_server: Make) -> None:
    server = make_server(ip_pools=POOLS)
    message = _pool_error(server.post("subaccount/add", {"fullname": "Pooled", "ip_pool": 4}))
    assert "configured pool ids are 1, 2" in message
    sub = ok(server.post("subaccount/add", {"fullname": "Pooled", "ip_pool": 2}))["id"]
    _pool_error(server.post("subaccount/edit", {"id": sub, "ip_pool": 7}))
    ok(server.post("subaccount/edit", {"id": sub, "ip_pool": 1}))
    stored = server.app.state.services.db.read_sync(
        lambda c: c.execute(select(accounts.c.ip_pool).where(accounts.c.id == sub)).scalar_one()
    )
    assert stored == 1
