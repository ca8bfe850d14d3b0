"""A subaccount may only use its own dedicated IP pool: assigning one (keys, SMTP users, IP auth) and
listing them (/dedicated_ips/view); a master account may use every pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from conftest import RunningServer
from envelope_checks import invalid, ok
from postroom.api import access
from postroom.storage.tables import api_keys, ip_auth, smtp_users

POOLS = "main=127.0.0.2,127.0.0.3;bulk=127.0.0.4;spare=127.0.0.5"
MAIN = {"id": 1, "name": "main", "ip_addresses": ["127.0.0.2", "127.0.0.3"]}
BULK = {"id": 2, "name": "bulk", "ip_addresses": ["127.0.0.4"]}
SPARE = {"id": 3, "name": "spare", "ip_addresses": ["127.0.0.5"]}

Make = Callable[..., RunningServer]


@pytest.fixture(autouse=True)
def _no_endpoint_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "ENDPOINT_LIMITS", {})


@pytest.fixture
def pooled(make_server: Make) -> RunningServer:
    return make_server(ip_pools=POOLS)


def _sub(server: RunningServer, name: str, ip_pool: int | None = None) -> str:
    account_id: str = ok(server.post("subaccount/add", {"fullname": name, "ip_pool": ip_pool}))["id"]
    return account_id


def _key_for(server: RunningServer, account_id: str) -> str:
    from postroom.features.api_keys.service import create_key

    key: str = server.app.state.services.db.write_sync(lambda conn: create_key(conn, account_id, ["*"]))
    return key


def _refused(r: Any) -> str:
    invalid(r, "ip_pool")
    message: str = r.json()["data"]["field_validation_errors"]["message"]
    return message


def _stored(server: RunningServer, table: Any, **where: Any) -> list[Any]:
    query = select(table.c.settings).where(*(table.c[name] == value for name, value in where.items()))
    return server.app.state.services.db.read_sync(
        lambda c: [(row.settings or {}).get("ip_pool") for row in c.execute(query)]
    )


def test_a_subaccount_key_cannot_assign_another_subaccounts_pool(pooled: RunningServer) -> None:
    a, b = _sub(pooled, "Team A", ip_pool=1), _sub(pooled, "Team B", ip_pool=2)
    key_b = _key_for(pooled, b)

    message = _refused(pooled.post("api_keys/add", {"ip_pool": 1}, key=key_b))
    assert "IP pool 1" in message and "only name its own pool 2" in message
    _refused(pooled.post("users/smtp/add", {"username": "b-user", "ip_pool": 1}, key=key_b))
    _refused(pooled.post("ip_auth/edit", {"ip_address": "192.0.2.20", "ip_pool": 1}, key=key_b))
    _refused(pooled.patch("ip_auth/edit", {"ip_address": "192.0.2.20", "ip_pool": 3}, key=key_b))
    _refused(pooled.post("api_keys/add", {"ip_pool": 3}, key=key_b))  # nobody's pool: the master's only
    assert "configured pool ids" in _refused(pooled.post("api_keys/add", {"ip_pool": 9}, key=key_b))

    # nothing was written for B (its only key is the one it called with), and A has nothing at all
    assert _stored(pooled, api_keys, account_id=b) == [None]
    assert _stored(pooled, smtp_users, account_id=b) == _stored(pooled, ip_auth, account_id=b) == []
    assert _stored(pooled, api_keys, account_id=a) == _stored(pooled, smtp_users, account_id=a) == []


def test_a_subaccount_key_may_assign_its_own_pool_or_none(pooled: RunningServer) -> None:
    b = _sub(pooled, "Team B", ip_pool=2)
    key_b = _key_for(pooled, b)

    [own] = ok(pooled.post("api_keys/add", {"ip_pool": 2}, key=key_b))
    [plain] = ok(pooled.post("api_keys/add", {"ip_pool": None}, key=key_b))
    assert (own["ippool"], plain["ippool"]) == (2, None)
    ok(pooled.post("users/smtp/add", {"username": "b-user", "ip_pool": 2}, key=key_b))
    ok(pooled.post("users/smtp/add", {"username": "b-plain"}, key=key_b))
    ok(pooled.post("ip_auth/edit", {"ip_address": "192.0.2.20", "ip_pool": 2}, key=key_b))
    ok(pooled.patch("ip_auth/edit", {"ip_address": "192.0.2.21", "ip_pool": None}, key=key_b))
    assert sorted(_stored(pooled, smtp_users, account_id=b), key=str) == [2, None]
    assert sorted(_stored(pooled, ip_auth, account_id=b), key=str) == [2, None]

    # edits: another pool is refused (POST and PATCH), a PATCH leaving ip_pool out keeps it
    for send in (pooled.post, pooled.patch):
        _refused(send("api_keys/edit", {"id": own["username"], "ip_pool": 1}, key=key_b))
        _refused(send("users/smtp/edit", {"username": "b-user", "ip_pool": 3}, key=key_b))
    [kept] = ok(pooled.patch("api_keys/edit", {"id": own["username"], "description": "x"}, key=key_b))
    assert kept["ippool"] == 2
    ok(pooled.patch("users/smtp/edit", {"username": "b-user", "description": "x"}, key=key_b))
    ok(pooled.patch("users/smtp/edit", {"username": "b-plain", "ip_pool": 2}, key=key_b))
    [edited] = ok(pooled.post("api_keys/edit", {"id": plain["username"], "ip_pool": 2}, key=key_b))
    assert edited["ippool"] == 2


def test_a_subaccount_without_a_pool_may_assign_none(pooled: RunningServer) -> None:
    key_c = _key_for(pooled, _sub(pooled, "Team C"))
    message = _refused(pooled.post("api_keys/add", {"ip_pool": 1}, key=key_c))
    assert "has no dedicated IP pool" in message
    _refused(pooled.post("users/smtp/add", {"username": "c-user", "ip_pool": 2}, key=key_c))
    _refused(pooled.patch("ip_auth/edit", {"ip_address": "192.0.2.30", "ip_pool": 1}, key=key_c))
    ok(pooled.post("api_keys/add", {}, key=key_c))
    ok(pooled.post("users/smtp/add", {"username": "c-user", "ip_pool": None}, key=key_c))


def test_the_master_may_assign_every_pool(pooled: RunningServer) -> None:
    _sub(pooled, "Team A", ip_pool=1)
    for pool in (1, 2, 3):
        [key] = ok(pooled.post("api_keys/add", {"ip_pool": pool}))
        assert key["ippool"] == pool
        ok(pooled.post("users/smtp/add", {"username": f"master-{pool}", "ip_pool": pool}))
        ok(pooled.patch("ip_auth/edit", {"ip_address": f"192.0.2.{40 + pool}", "ip_pool": pool}))


def test_a_master_acting_for_a_subaccount_may_assign_only_its_pool(pooled: RunningServer) -> None:
    a, b = _sub(pooled, "Team A", ip_pool=1), _sub(pooled, "Team B", ip_pool=2)
    acting = {"subaccount_id": b}

    _refused(pooled.post("api_keys/add", {**acting, "ip_pool": 1}))
    _refused(pooled.post("users/smtp/add", {**acting, "username": "b-user", "ip_pool": 1}))
    _refused(pooled.post("ip_auth/edit", {**acting, "ip_address": "192.0.2.50", "ip_pool": 1}))
    [key] = ok(pooled.post("api_keys/add", {**acting, "ip_pool": 2}))
    assert key["ippool"] == 2
    ok(pooled.post("users/smtp/add", {**acting, "username": "b-user", "ip_pool": 2}))
    ok(pooled.post("ip_auth/edit", {**acting, "ip_address": "192.0.2.50", "ip_pool": None}))
    assert _stored(pooled, smtp_users, account_id=b) == [2]
    assert _stored(pooled, ip_auth, account_id=b) == [None]

    # after the master moves B to pool 3, pool 3 is B's and pool 2 no longer is
    ok(pooled.post("subaccount/edit", {"id": b, "ip_pool": 3}))
    _refused(pooled.post("users/smtp/edit", {**acting, "username": "b-user", "ip_pool": 2}))
    ok(pooled.post("users/smtp/edit", {**acting, "username": "b-user", "ip_pool": 3}))
    ok(pooled.post("api_keys/add", {"subaccount_id": a, "ip_pool": 1}))


def test_view_lists_only_the_pools_the_account_may_use(pooled: RunningServer) -> None:
    a, b, c = _sub(pooled, "Team A", ip_pool=1), _sub(pooled, "Team B", ip_pool=2), _sub(pooled, "Team C")
    assert ok(pooled.post("dedicated_ips/view", {})) == [MAIN, BULK, SPARE]
    assert ok(pooled.post("dedicated_ips/view", {}, key=_key_for(pooled, a))) == [MAIN]
    assert ok(pooled.post("dedicated_ips/view", {}, key=_key_for(pooled, b))) == [BULK]
    assert ok(pooled.post("dedicated_ips/view", {}, key=_key_for(pooled, c))) == []
    assert ok(pooled.post("dedicated_ips/view", {"subaccount_id": b})) == [BULK]  # acting: B's view
    ok(pooled.post("subaccount/edit", {"id": c, "ip_pool": 3}))
    assert ok(pooled.post("dedicated_ips/view", {}, key=_key_for(pooled, c))) == [SPARE]
