"""`postroom feedback`: the bounces and complaints that came back, understood or not."""

from __future__ import annotations

import sys
from typing import Any

import click

from postroom.cli.common import database_options, open_database


@click.group()
def feedback() -> None:
    """Reports (DSN bounces, ARF complaints) received on the return-path domain."""


@feedback.command("list")
@click.option("--limit", type=int, default=50, show_default=True)
@database_options
def feedback_list(limit: int, **flags: Any) -> None:
    """The newest reports: when, kind, the address it came to, the delivery matched, what it said."""
    from postroom.features.feedback import service

    db = open_database(flags)
    for row in db.read_sync(lambda c: service.recent(c, limit)):
        delivery = row["delivery_id"] if row["delivery_id"] is not None else "-"
        when = f"{row['received_at']:%Y-%m-%d %H:%M:%S}"
        click.echo(f"{row['id']}\t{when}\t{row['kind']}\t{delivery}\t{row['summary']}")


@feedback.command("show")
@click.argument("feedback_id", type=int)
@database_options
def feedback_show(feedback_id: int, **flags: Any) -> None:
    """The report exactly as it arrived (raw bytes to standard output)."""
    from postroom.features.feedback import service

    db = open_database(flags)
    raw = db.read_sync(lambda c: service.raw_report(c, feedback_id))
    if raw is None:
        raise click.ClickException(f"no feedback report {feedback_id}")
    sys.stdout.buffer.write(raw)
