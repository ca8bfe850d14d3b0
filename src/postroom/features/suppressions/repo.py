"""The SQL of the suppression list: entries added by feedback and by the API, the send-path lookup,
and /suppression/view's filtered pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, delete, func, literal_column, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from postroom.features.suppressions.entries import keys_of
from postroom.storage.tables import messages, suppressions

_S = suppressions.c


def _insert(conn: Connection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(suppressions).on_conflict_do_nothing()


def add_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert suppressions; an address already suppressed for the same type is left as it was."""
    if rows:
        conn.execute(_insert(conn), rows)


def add_one(conn: Connection, entry: dict[str, Any]) -> bool:
    """Insert one suppression; False when the address is already suppressed for that type."""
    return conn.execute(_insert(conn).returning(_S.id), entry).first() is not None


def row(
    account_id: str,
    address: str,
    kind: str,
    reason: str,
    email_id: str | None,
    now: datetime,
    block_description: str = "",
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "email_address": address.lower(),
        "type": kind,
        "reason": reason,
        "email_id": email_id,
        "created_at": now,
        "block_description": block_description,
    }


# built once: asked at every RCPT TO and every send, where building the statement cost more than running it
_LOOKUP = select(_S.email_address).where(
    _S.account_id == bindparam("account_id"), _S.email_address.in_(bindparam("keys", expanding=True))
)


def suppressed_among(conn: Connection, account_id: str, addresses: Iterable[str]) -> set[str]:
    """Which of these addresses (lower-cased) are suppressed: by their own entry, their domain's or
    a parent domain's (entries.keys_of). One indexed query, whatever the entry's type."""
    wanted = {a.lower() for a in addresses}
    if not wanted:
        return set()
    keys = {a: keys_of(a) for a in wanted}
    every = sorted(set().union(*keys.values()))
    hits = set(conn.execute(_LOOKUP, {"account_id": account_id, "keys": every}).scalars())
    return {a for a in wanted if keys[a] & hits}


def remove(conn: Connection, account_id: str, entry: str, kinds: list[str]) -> set[str]:
    """Delete the entry's suppressions of these types; returns the types that existed."""
    result = conn.execute(
        delete(suppressions)
        .where(_S.account_id == account_id, _S.email_address == entry, _S.type.in_(kinds))
        .returning(_S.type)
    )
    return set(result.scalars())


@dataclass(frozen=True)
class ViewFilter:
    """What /suppression/view asks for. Each given criterion narrows the result; within one, any
    value matches. `exact` holds the keys of named addresses or domains (an entry that suppresses
    them matches), `contains` substrings of the entry, `pattern` a LIKE pattern (escaped with `\\`)."""

    account_id: str
    exact: frozenset[str] = frozenset()
    contains: tuple[str, ...] = ()
    pattern: str | None = None
    types: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None  # exclusive


def _contains(dialect: str, text: str) -> ColumnElement[bool]:
    """The entry holds `text`: instr()/strpos(), a plain substring test with no pattern syntax and no
    pattern-length limit (SQLite refuses LIKE patterns over 50,000 bytes)."""
    if dialect == "postgresql":
        return func.strpos(_S.email_address, text) > 0
    return func.instr(_S.email_address, text) > 0


def _conditions(dialect: str, f: ViewFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [_S.account_id == f.account_id]
    named: list[ColumnElement[bool]] = []
    if f.exact:
        named.append(_S.email_address.in_(f.exact))
    named += [_contains(dialect, text) for text in f.contains]
    if named:
        found.append(or_(*named))
    if f.pattern is not None:
        found.append(_S.email_address.like(f.pattern, escape="\\"))
    if f.types is not None:
        found.append(_S.type.in_(f.types))
    if f.start is not None:
        found.append(_S.created_at >= f.start)
    if f.end is not None:
        found.append(_S.created_at < f.end)
    return found


def _order_columns(dialect: str, f: ViewFilter) -> list[ColumnElement[Any]]:
    """created_at, id. When a few named entries are asked for, SQLite (which keeps no statistics) would
    rather walk the account's whole timestamp index than look them up by address; a unary `+` makes
    the timestamp index useless for the order, so it takes the address index and sorts the few rows."""
    if dialect == "sqlite" and f.exact:
        return [literal_column("+suppressions.created_at"), literal_column("+suppressions.id")]
    return [_S.created_at, _S.id]


def count(conn: Connection, f: ViewFilter) -> int:
    total: int = conn.execute(
        select(func.count()).select_from(suppressions).where(*_conditions(conn.dialect.name, f))
    ).scalar_one()
    return total


def page(
    conn: Connection, f: ViewFilter, descending: bool, after: tuple[datetime, int] | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` + 1 entries in timestamp order (then id), after the `(created_at, id)` of the
    last one seen; each with the subject of the message that caused it, when there is one."""
    where = _conditions(conn.dialect.name, f)
    if after is not None:
        at, last = after
        if descending:
            where.append(or_(_S.created_at < at, and_(_S.created_at == at, _S.id < last)))
        else:
            where.append(or_(_S.created_at > at, and_(_S.created_at == at, _S.id > last)))
    order = [c.desc() if descending else c.asc() for c in _order_columns(conn.dialect.name, f)]
    joined = suppressions.outerjoin(
        messages, and_(messages.c.email_id == _S.email_id, messages.c.account_id == _S.account_id)
    )
    query = (
        select(
            _S.id,
            _S.email_address,
            _S.type,
            _S.reason,
            _S.block_description,
            _S.created_at,
            messages.c.subject,
        )
        .select_from(joined)
        .where(*where)
        .order_by(*order)
        .limit(limit + 1)
    )
    return [dict(r._mapping) for r in conn.execute(query)]
