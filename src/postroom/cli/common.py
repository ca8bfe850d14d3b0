"""What the management commands share: the database options and opening the migrated database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from postroom.storage.database import Database


def database_options(fn: Any) -> Any:
    fn = click.option("--data-dir", type=click.Path(path_type=Path), help="POSTROOM_DATA_DIR")(fn)
    fn = click.option("--database-url", help="POSTROOM_DATABASE_URL (sqlite:///… or postgresql://…)")(fn)
    return fn


def open_database(flags: dict[str, Any]) -> Database:
    """The migrated database the settings name; a bad setting is reported as a usage error."""
    from postroom.app import prepare
    from postroom.errors import ConfigError
    from postroom.settings import load_settings

    try:
        settings = load_settings(flags={k: v for k, v in flags.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    db, _ = prepare(settings)
    return db
