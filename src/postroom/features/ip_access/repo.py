"""SQL for IP auth entries, the allow lists' enabled flags and the allow lists' entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from postroom.storage.tables import accounts, ip_allow_list_entries, ip_allow_lists, ip_auth

# --- IP auth ---------------------------------------------------------------------------------------


def ip_auth_row(conn: Connection, ip_address: str) -> dict[str, Any] | None:
    """The entry of an address, whatever its account, with the account's name (for SMTP)."""
    row = conn.execute(
        select(ip_auth, accounts.c.name.label("account_name"))
        .join(accounts, accounts.c.id == ip_auth.c.account_id)
        .where(ip_auth.c.ip_address == ip_address)
    ).first()
    return dict(row._mapping) if row else None


def ip_auth_rows(conn: Connection, account_id: str, ip_address: str = "") -> list[dict[str, Any]]:
    query = select(ip_auth).where(ip_auth.c.account_id == account_id)
    if ip_address:
        query = query.where(ip_auth.c.ip_address == ip_address)
    return [dict(r._mapping) for r in conn.execute(query.order_by(ip_auth.c.id))]


def insert_ip_auth(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(ip_auth).values(**row))


def update_ip_auth(conn: Connection, entry_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(ip_auth).where(ip_auth.c.id == entry_id).values(**values))


def delete_ip_auth(conn: Connection, entry_id: int) -> None:
    conn.execute(delete(ip_auth).where(ip_auth.c.id == entry_id))


# --- allow lists -----------------------------------------------------------------------------------


def list_enabled(conn: Connection, account_id: str, kind: str) -> bool:
    value = conn.execute(
        select(ip_allow_lists.c.enabled).where(
            ip_allow_lists.c.account_id == account_id, ip_allow_lists.c.type == kind
        )
    ).scalar()
    return bool(value)


def set_list_enabled(conn: Connection, account_id: str, kind: str, enabled: bool, now: datetime) -> None:
    """Upsert the flag; a row inserted meanwhile by another process is updated instead."""
    where = and_(ip_allow_lists.c.account_id == account_id, ip_allow_lists.c.type == kind)
    values = {"enabled": enabled, "updated_at": now}
    if conn.execute(update(ip_allow_lists).where(where).values(**values)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(ip_allow_lists).values(account_id=account_id, type=kind, **values))
    except IntegrityError:
        conn.execute(update(ip_allow_lists).where(where).values(**values))


def entries(conn: Connection, account_id: str, kind: str) -> list[dict[str, Any]]:
    query = (
        select(ip_allow_list_entries)
        .where(ip_allow_list_entries.c.account_id == account_id, ip_allow_list_entries.c.type == kind)
        .order_by(ip_allow_list_entries.c.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def entry(conn: Connection, account_id: str, kind: str, network: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(ip_allow_list_entries).where(
            ip_allow_list_entries.c.account_id == account_id,
            ip_allow_list_entries.c.type == kind,
            ip_allow_list_entries.c.network == network,
        )
    ).first()
    return dict(row._mapping) if row else None


def insert_entry(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(ip_allow_list_entries).values(**row))


def update_entry(conn: Connection, entry_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(ip_allow_list_entries).where(ip_allow_list_entries.c.id == entry_id).values(**values))


def delete_entry(conn: Connection, entry_id: int) -> None:
    conn.execute(delete(ip_allow_list_entries).where(ip_allow_list_entries.c.id == entry_id))


def enabled_networks(conn: Connection, kind: str, account_id: str = "") -> tuple[bool, list[str]]:
    """Whether any list of this type (of this account, when given) is enabled, and the networks of
    every enabled one."""
    lists, listed = ip_allow_lists, ip_allow_list_entries
    query = (
        select(lists.c.account_id, listed.c.network)
        .select_from(
            lists.outerjoin(
                listed, and_(listed.c.account_id == lists.c.account_id, listed.c.type == lists.c.type)
            )
        )
        .where(lists.c.type == kind, lists.c.enabled)
    )
    if account_id:
        query = query.where(lists.c.account_id == account_id)
    rows = conn.execute(query).all()
    return bool(rows), [r.network for r in rows if r.network is not None]
