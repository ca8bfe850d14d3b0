"""Process-shared secrets kept in `server_state`, created once by whichever process asks first."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from postroom.storage.tables import server_state


def shared_secret(conn: Connection, name: str) -> bytes:
    """The secret stored under `name`, made now if there is none (safe when processes race)."""
    table_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        table_insert(server_state).values(name=name, value=secrets.token_hex(32)).on_conflict_do_nothing()
    )
    value = conn.execute(select(server_state.c.value).where(server_state.c.name == name)).scalar_one()
    return bytes.fromhex(value)
