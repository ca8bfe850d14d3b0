"""Alembic environment: runs migrations on the connection or URL handed over by postroom.storage.migrate."""

from __future__ import annotations

from alembic import context

from postroom.storage.engine import create_db_engine
from postroom.storage.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: object) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
