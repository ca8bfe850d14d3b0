"""The `postroom` command: serve, smtp, worker, migrate, keys, domains, webhooks, settings."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Any

import click

from postroom.cli.domains import domains
from postroom.cli.feedback import feedback
from postroom.cli.webhooks import webhooks
from postroom.errors import ConfigError
from postroom.settings import Settings, load_settings


def _settings(**flags: Any) -> Settings:
    try:
        return load_settings(flags={k: v for k, v in flags.items() if v is not None})
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    smtp_log = logging.getLogger("mail.log")
    if level.lower() != "debug":
        # aiosmtpd logs several INFO lines per SMTP session; at load that is a tenth of the CPU.
        smtp_log.setLevel(logging.WARNING)
    # aiosmtpd warns about its own deprecated attribute on every successful AUTH; not ours to fix.
    smtp_log.addFilter(lambda record: not str(record.msg).startswith("Session.login_data is deprecated"))


def _common(fn: Any) -> Any:
    fn = click.option("--data-dir", type=click.Path(path_type=Path), help="POSTROOM_DATA_DIR")(fn)
    fn = click.option("--database-url", help="POSTROOM_DATABASE_URL (sqlite:///… or postgresql://…)")(fn)
    return fn


@click.group()
def main() -> None:
    """Postroom: a self-hosted email delivery server that speaks the SMTP2GO API v3."""


def _smtp_options(fn: Any) -> Any:
    fn = click.option("--hostname", help="POSTROOM_HOSTNAME: the name in SMTP greetings (default localhost)")(
        fn
    )
    fn = click.option("--smtp-host", help="POSTROOM_SMTP_HOST (default 127.0.0.1)")(fn)
    fn = click.option("--smtp-port", type=int, help="POSTROOM_SMTP_PORT (default 2525; 0 turns SMTP off)")(fn)
    fn = click.option("--smtps-port", type=int, help="POSTROOM_SMTPS_PORT: implicit TLS (default off)")(fn)
    fn = click.option(
        "--smtp-allow-plain-auth", help="POSTROOM_SMTP_ALLOW_PLAIN_AUTH: auto (loopback only), true, false"
    )(fn)
    return fn


def _delivery_options(fn: Any) -> Any:
    fn = click.option("--delivery-mode", help="POSTROOM_DELIVERY_MODE: capture (default), relay or mx")(fn)
    fn = click.option("--relay-url", help="POSTROOM_RELAY_URL: smtp://user:pass@host:port?tls=…")(fn)
    return fn


@main.command()
@_common
@_smtp_options
@click.option("--http-host", help="POSTROOM_HTTP_HOST (default 127.0.0.1)")
@click.option("--http-port", type=int, help="POSTROOM_HTTP_PORT (default 8080)")
@_delivery_options
@click.option("--workers/--no-workers", default=None, help="run delivery workers in this process")
@click.option("--reset-api-key", is_flag=True, help="give the bootstrap key a new secret and print it")
def serve(reset_api_key: bool, **flags: Any) -> None:
    """Run the HTTP API, the web pages and the delivery workers."""
    import uvicorn

    from postroom.app import build_app, prepare

    settings = _settings(**flags)
    _setup_logging(settings.log_level)
    db, boot = prepare(settings, reset_key=reset_api_key)
    app = build_app(settings, db)
    click.echo(
        f"Postroom is listening: {settings.base_url}  (web page http://{settings.http_host}:{settings.http_port}/)"
    )
    click.echo(f"Delivery mode: {settings.delivery_mode}; database: {db.engine.url.render_as_string()}")
    if settings.smtp_port:
        tls = f", implicit TLS on {settings.smtps_port}" if settings.smtps_port else ""
        click.echo(f"SMTP: {settings.smtp_host}:{settings.smtp_port} (STARTTLS{tls}) as {settings.hostname}")
    if boot.shown_key:
        click.echo(f"API key (shown once, keep it): {boot.shown_key}")
    else:
        click.echo(f"API key: the existing bootstrap key {boot.key_id}… (use --reset-api-key for a new one)")
    sys.stdout.flush()
    # Everything built so far lives as long as the process: keep it out of the collector's scans,
    # which otherwise stall the event loop and the writer thread tens of milliseconds at a time.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        server_header=False,
    )


@main.command()
@_common
@_smtp_options
def smtp(**flags: Any) -> None:
    """Run only the SMTP server (for split deployments on PostgreSQL; workers run elsewhere)."""
    import asyncio
    import signal

    from postroom.app import build_smtp, prepare
    from postroom.services import build_services

    settings = _settings(**flags)
    if not settings.smtp_port:
        raise click.ClickException("setting 'smtp_port' is 0: nothing to run")
    _setup_logging(settings.log_level)
    db, _ = prepare(settings)

    async def run() -> None:
        db.start()
        server = build_smtp(build_services(settings, db))
        await server.start()
        click.echo(
            f"Postroom SMTP is listening on {settings.smtp_host}:{server.ports} as {settings.hostname}"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
        db.close()

    asyncio.run(run())


@main.command()
@_common
@_delivery_options
@click.option("--hostname", help="POSTROOM_HOSTNAME: the EHLO name of outgoing connections")
def worker(**flags: Any) -> None:
    """Run only delivery workers and the scheduler (any number of processes and hosts on PostgreSQL)."""
    import asyncio
    import signal

    from postroom.app import prepare
    from postroom.scheduler.tasks import build_scheduler
    from postroom.services import build_dispatcher, build_worker

    settings = _settings(**flags)
    _setup_logging(settings.log_level)
    db, _ = prepare(settings)

    async def run() -> None:
        db.start()
        delivery = build_worker(settings, db)
        scheduler = build_scheduler(db, settings)  # periodic tasks, run by one process at a time
        dispatcher = build_dispatcher(settings, db)  # webhook notifications
        task = asyncio.create_task(delivery.run())
        periodic = asyncio.create_task(scheduler.run())
        dispatch = asyncio.create_task(dispatcher.run())
        click.echo(f"Postroom worker {delivery.worker_id} is delivering ({settings.delivery_mode} mode)")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()

        def stop() -> None:  # one handler per signal: a second add_signal_handler would replace it
            delivery.stop()
            scheduler.stop()
            dispatcher.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        await task
        await periodic
        await dispatch
        db.close()

    asyncio.run(run())


@main.command()
@_common
def migrate(**flags: Any) -> None:
    """Apply database migrations."""
    from postroom.storage.database import Database
    from postroom.storage.migrate import upgrade

    settings = _settings(**flags)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    click.echo("database is up to date")


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@_common
@click.option("--permissions", multiple=True, help="canonical path with wildcards, e.g. /email/*; repeatable")
@click.option("--description", default="", help="what the key is for")
def keys_create(permissions: tuple[str, ...], description: str, **flags: Any) -> None:
    """Create an API key on the master account and print it (shown once)."""
    from postroom.api.table import build_registry
    from postroom.app import prepare
    from postroom.features.api_keys import service
    from postroom.features.api_keys.permissions import grant_problem

    settings = _settings(**flags)
    db, _ = prepare(settings)
    grants = [g for p in permissions for g in p.replace(",", " ").split()] or ["*"]
    catalog = build_registry().catalog()
    problems = [problem for g in grants if (problem := grant_problem(g, catalog))]
    if problems:
        raise click.ClickException("; ".join(problems))
    key = db.write_sync(
        lambda c: service.create_key(c, service.ensure_master_account(c), grants, description)
    )
    click.echo(key)


@main.command("settings")
def settings_command() -> None:
    """Print every setting as a Markdown table (the README's configuration table comes from this)."""
    from postroom.settings import settings_table

    click.echo("| environment variable | default | meaning |\n|---|---|---|")
    for env, default, description in settings_table():
        click.echo(f"| `{env}` | `{default}` | {description} |")


main.add_command(domains)
main.add_command(webhooks)
main.add_command(feedback)
