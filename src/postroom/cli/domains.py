"""The `postroom domains` commands: add a sender domain (printing its DKIM record) and list them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from postroom.cli.common import database_options, open_database

if TYPE_CHECKING:  # imported when a command runs, so `postroom --help` stays quick
    from postroom.features.domains.service import DomainRecord

HINT = (
    "Publish this TXT record in the domain's DNS. Where a provider takes strings of at most 255 "
    "characters, split the value into several quoted strings, adding no spaces."
)


def _record_lines(record: DomainRecord) -> list[str]:
    return [
        f"Name:  {record.dkim_record_name}",
        "Type:  TXT",
        f"Value: {record.dkim_record_value}",
    ]


@click.group()
def domains() -> None:
    """Manage sender domains and their DKIM keys."""


@domains.command("add")
@click.argument("domain")
@database_options
def domains_add(domain: str, **flags: Any) -> None:
    """Add DOMAIN with a new DKIM key and print the DNS record to publish (master account)."""
    from postroom.errors import PostroomError
    from postroom.features.api_keys.service import ensure_master_account
    from postroom.features.domains import service

    try:
        new = service.new_domain(domain)
        db = open_database(flags)
        try:
            record = db.write_sync(lambda c: service.insert_domain(c, ensure_master_account(c), new))
        finally:
            db.close()
    except PostroomError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Added {record.domain}. Mail from it is DKIM-signed with selector {record.dkim_selector}.")
    click.echo("\n".join(_record_lines(record)))
    click.echo(HINT)


@domains.command("list")
@database_options
def domains_list(**flags: Any) -> None:
    """List the master account's sender domains with their DKIM records."""
    from postroom.features.api_keys.service import ensure_master_account
    from postroom.features.domains import service

    db = open_database(flags)
    try:
        records = db.write_sync(lambda c: service.list_domains(c, ensure_master_account(c)))
    finally:
        db.close()
    if not records:
        click.echo("No sender domains yet: add one with `postroom domains add example.com`.")
    for record in records:
        click.echo(f"{record.domain}  (added {record.created_at:%Y-%m-%d})")
        click.echo("\n".join("  " + line for line in _record_lines(record)))
