"""The `postroom webhooks` commands: list webhooks, and a webhook's notifications with their attempts."""

from __future__ import annotations

import json
from typing import Any

import click

from postroom.cli.common import database_options, open_database


@click.group()
def webhooks() -> None:
    """See webhooks and what was posted to them."""


@webhooks.command("list")
@database_options
def webhooks_list(**flags: Any) -> None:
    """Every webhook of every account: id, account, state, URL and events."""
    from postroom.features.webhooks import repo

    db = open_database(flags)
    try:
        rows = db.read_sync(repo.every_webhook)
    finally:
        db.close()
    for row in rows:
        state = "disabled" if row["disabled"] else "enabled"
        click.echo(f"{row['id']}\t{row['account_id']}\t{state}\t{row['url']}\t{','.join(row['events'])}")


@webhooks.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--state", default="", help="pending, delivered, failed or cancelled")
@click.option("--email-id", default="", help="only this message's notifications")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="one JSON object per notification, with its attempts")
@database_options
def webhooks_deliveries(
    webhook_id: int, state: str, email_id: str, limit: int, as_json: bool, **flags: Any
) -> None:
    """WEBHOOK_ID's notifications, newest first, with the outcome of each attempt."""
    from postroom.dispatch import outbox

    db = open_database(flags)
    try:
        rows = db.read_sync(
            lambda c: outbox.notifications(c, webhook_id, limit, state=state, email_id=email_id)
        )
    finally:
        db.close()
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, default=str))
            continue
        last = row["attempt_log"][-1] if row["attempt_log"] else None
        outcome = (
            "" if last is None else (f"HTTP {last['status_code']}" if last["status_code"] else last["error"])
        )
        click.echo(
            f"{row['id']}\t{row['event']}\t{row['email_id']}\t{row['recipient'] or '-'}\t{row['state']}"
            f"\t{row['attempts']} attempt(s)\t{outcome}"
        )
