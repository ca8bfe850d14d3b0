"""SQL for the allowed lists: each account's entries per kind, and each kind's mode."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from postroom.storage.tables import allowed_list_entries as entries_table
from postroom.storage.tables import allowed_list_modes as modes_table

CHUNK = 500  # entries per IN (…) list: well under every backend's limit on bound parameters


def modes(conn: Connection, account_id: str) -> dict[str, str]:
    """The mode of each kind the account has set (a kind never set is absent)."""
    rows = conn.execute(
        select(modes_table.c.kind, modes_table.c.mode).where(modes_table.c.account_id == account_id)
    )
    return {r.kind: r.mode for r in rows}


def entries(conn: Connection, account_id: str, kind: str) -> list[str]:
    """The entries of one list, oldest first."""
    query = (
        select(entries_table.c.entry)
        .where(entries_table.c.account_id == account_id, entries_table.c.kind == kind)
        .order_by(entries_table.c.id)
    )
    return list(conn.execute(query).scalars())


def set_mode(conn: Connection, account_id: str, kind: str, mode: str, now: datetime) -> None:
    """Upsert the mode; a row inserted meanwhile by another process is updated instead."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = {"account_id": account_id, "kind": kind, "mode": mode, "updated_at": now}
    conn.execute(
        insert(modes_table)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[modes_table.c.account_id, modes_table.c.kind],
            set_={"mode": mode, "updated_at": now},
        )
    )


def add(conn: Connection, account_id: str, kind: str, new: Sequence[str], now: datetime) -> None:
    """Insert entries; one already listed (by this or another process) is left as it is."""
    if not new:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    rows = [{"account_id": account_id, "kind": kind, "entry": e, "created_at": now} for e in new]
    conn.execute(insert(entries_table).on_conflict_do_nothing(), rows)


def remove(conn: Connection, account_id: str, kind: str, gone: Sequence[str]) -> None:
    """Delete these entries; one that is not listed is no error."""
    for start in range(0, len(gone), CHUNK):
        conn.execute(
            delete(entries_table).where(
                entries_table.c.account_id == account_id,
                entries_table.c.kind == kind,
                entries_table.c.entry.in_(gone[start : start + CHUNK]),
            )
        )


def clear(conn: Connection, account_id: str, kind: str) -> None:
    conn.execute(
        delete(entries_table).where(entries_table.c.account_id == account_id, entries_table.c.kind == kind)
    )
