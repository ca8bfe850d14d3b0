"""Managing an account's API keys: add, edit (replace or patch), view, remove, and a key's permissions.

Rules (reference §7.9, decisions.md):
- A key only ever sees its own account's keys; another account's key is "not found", never "forbidden".
- `id` is a key's 16-character identity (`api-` + 12 hex), the full key, or the masked form.
- A key may only grant what it holds (permissions.covers), and may only edit or remove a key whose
  every grant it holds itself, so a narrow key cannot block or remove a broader one.
- A key cannot remove or block itself: the last full-permission key would lock its operator out.
- `ip_pool` must name a configured dedicated IP pool, and a subaccount's (also when a master key acts
  for it) only its own pool (features.dedicated_ips.check_account_pool).
Raises InvalidInput for a bad field, Forbidden for the subset rule, NotFound for an unknown key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection

from postroom.clock import utcnow
from postroom.errors import Forbidden, InvalidInput, NotFound
from postroom.features.activity.match import check_search
from postroom.features.api_keys import repo
from postroom.features.api_keys.identity import Principal, hash_key, key_id_of
from postroom.features.api_keys.permissions import Catalog, covers, expand, grant_problem, normalize_grant
from postroom.features.api_keys.profile import request_values, result, stored_settings
from postroom.features.api_keys.schemas import (
    DEFAULT_ENDPOINTS,
    MASK,
    SETTING_FIELDS,
    KeyAddRequest,
    KeyEditRequest,
    KeyResult,
)
from postroom.features.dedicated_ips.service import check_account_pool, check_pool
from postroom.ids import new_api_key
from postroom.settings import API_KEY_PATTERN
from postroom.storage.database import Database

_KEY_ID = re.compile(r"api-[0-9A-Fa-f]{12}")
PERMISSIONS_PATH = "/api_keys/permissions"  # callable by every key (api.access)


def parse_id(value: str) -> tuple[str, str | None]:
    """(the 16-character identity, the full key when one was given)."""
    value = value.strip()
    if API_KEY_PATTERN.fullmatch(value):
        return key_id_of(value), value
    if _KEY_ID.fullmatch(value) or (value.endswith(MASK) and _KEY_ID.fullmatch(value[: -len(MASK)])):
        return value[:16], None
    raise InvalidInput(
        "id", "The field 'id' takes a key's first 16 characters ('api-' and 12 hex digits) or the full key"
    )


def _owned(conn: Connection, account_id: str, key: str) -> dict[str, Any]:
    key_id, full = parse_id(key)
    row = repo.key_of(conn, account_id, key_id)
    if row is None or (full is not None and row["key_hash"] != hash_key(full)):
        raise NotFound(f"The API key '{key_id}' does not exist")
    return row


def _grants(caller: Principal, endpoints: list[str], catalog: Catalog) -> list[str]:
    """The requested endpoints, named canonically and held by the caller (the subset rule)."""
    grants = list(dict.fromkeys(normalize_grant(e) for e in endpoints or DEFAULT_ENDPOINTS))
    for grant in grants:
        problem = grant_problem(grant, catalog)
        if problem:
            raise InvalidInput("endpoints", f"The field 'endpoints' is invalid: {problem}")
    for grant in grants:
        if not covers(caller.endpoints, grant, catalog.paths):
            raise Forbidden(f"This API key may not grant '{grant}': a key may only grant endpoints it holds")
    return grants


def _may_manage(caller: Principal, row: dict[str, Any], catalog: Catalog) -> None:
    if not all(covers(caller.endpoints, grant, catalog.paths) for grant in row["endpoints"]):
        raise Forbidden(f"This API key may not change '{row['id']}', which holds endpoints this key does not")


def _columns(
    caller: Principal, values: dict[str, Any], catalog: Catalog, keep: list[str] | None = None
) -> dict[str, Any]:
    """The row's columns for settings named as in a request; `keep` leaves the endpoints unchecked."""
    settings = stored_settings(values)
    return {
        "description": values["description"],
        "status": values["status"],
        "endpoints": keep if keep is not None else _grants(caller, values["endpoints"], catalog),
        "settings": settings,
    }


def _insert(conn: Connection, row: dict[str, Any], ip_pool: int | None, pool_ids: Collection[int]) -> None:
    check_account_pool(conn, row["account_id"], ip_pool, pool_ids)
    repo.insert_key(conn, row)


def _edit(
    conn: Connection,
    caller: Principal,
    req: KeyEditRequest,
    only: frozenset[str] | None,
    catalog: Catalog,
    pool_ids: Collection[int],
) -> dict[str, Any]:
    row = _owned(conn, caller.account_id, req.id)
    _may_manage(caller, row, catalog)
    check_account_pool(conn, caller.account_id, req.ip_pool, pool_ids)  # None (also: not given) passes
    given = {name: getattr(req, name) for name in (SETTING_FIELDS if only is None else only)}
    values = given if only is None else {**request_values(row), **given}
    if row["id"] == caller.key_id and values["status"] == "blocked":
        raise InvalidInput("status", "A key cannot block itself; block it with another key")
    keep = row["endpoints"] if only is not None and "endpoints" not in only else None
    changes = _columns(caller, values, catalog, keep)
    repo.update_key(conn, row["id"], changes)
    return {**row, **changes}


def _remove(conn: Connection, caller: Principal, key: str, catalog: Catalog) -> dict[str, Any]:
    row = _owned(conn, caller.account_id, key)
    if row["id"] == caller.key_id:
        raise InvalidInput("id", "A key cannot remove itself; remove it with another key")
    _may_manage(caller, row, catalog)
    repo.delete_key(conn, row["id"])
    return row


class KeyAdmin:
    """The one place keys are managed; `forget(key_hash)` drops a changed key from the auth cache."""

    def __init__(self, db: Database, forget: Callable[[str], None], pool_ids: Collection[int] = ()) -> None:
        self._db = db
        self._forget = forget
        self._pool_ids = pool_ids  # the configured dedicated IP pools that `ip_pool` may name

    async def add(self, caller: Principal, req: KeyAddRequest, catalog: Catalog) -> KeyResult:
        """A new key in the caller's account; the result holds the full key, the only time it is shown."""
        check_pool(req.ip_pool, self._pool_ids)
        key = new_api_key()
        row = {
            "id": key_id_of(key),
            "account_id": caller.account_id,
            "key_hash": hash_key(key),
            **_columns(caller, {name: getattr(req, name) for name in SETTING_FIELDS}, catalog),
            "created_at": utcnow(),
        }
        await self._db.write(lambda conn: _insert(conn, row, req.ip_pool, self._pool_ids))
        return result(row, key)

    async def edit(
        self, caller: Principal, req: KeyEditRequest, only: frozenset[str] | None, catalog: Catalog
    ) -> KeyResult:
        """Replace every setting (POST edit), or with `only`, just those settings (PATCH edit)."""
        check_pool(req.ip_pool, self._pool_ids)
        row = await self._db.write(lambda conn: _edit(conn, caller, req, only, catalog, self._pool_ids))
        self._forget(row["key_hash"])
        return result(row)

    async def view(self, caller: Principal, key: str = "", search: str = "") -> list[KeyResult]:
        """One key (by `key`), or the account's keys whose description contains `search`."""
        if key:
            return [result(await self._db.read(lambda conn: _owned(conn, caller.account_id, key)))]
        check_search("search", search)
        rows = await self._db.read(lambda conn: repo.keys_of(conn, caller.account_id, search))
        return [result(row) for row in rows]

    async def remove(self, caller: Principal, key: str, catalog: Catalog) -> KeyResult:
        row = await self._db.write(lambda conn: _remove(conn, caller, key, catalog))
        self._forget(row["key_hash"])
        return result(row)

    @staticmethod
    def permissions(caller: Principal, catalog: Catalog) -> list[str]:
        """The served canonical paths the key may call, sorted (always including /api_keys/permissions)."""
        return expand((*caller.endpoints, PERMISSIONS_PATH), catalog.served)
