"""build_app(settings): wires storage, services, routes, SMTP, the delivery worker and the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from postroom.api.capture import routes as capture_routes
from postroom.api.envelope import JSONResponse, error_envelope
from postroom.api.openapi import build_openapi
from postroom.api.table import build_registry
from postroom.api.templates import routes as template_api_routes
from postroom.api.v3 import PREFIX, V3App
from postroom.api.webhooks import routes as webhook_api_routes
from postroom.errors import MethodNotAllowed, NotFound, PostroomError
from postroom.features.api_keys.service import Bootstrap, bootstrap
from postroom.ids import new_request_id
from postroom.scheduler.tasks import build_scheduler
from postroom.services import Services, build_services
from postroom.settings import Settings
from postroom.smtp.handler import SubmissionHandler
from postroom.smtp.server import SmtpServer
from postroom.storage.database import Database
from postroom.storage.migrate import upgrade
from postroom.web.invitations import routes as invitation_web_routes
from postroom.web.routes import routes as web_routes
from postroom.web.senders import routes as single_sender_web_routes

log = logging.getLogger(__name__)
OPENAPI_PATH = "/v3/openapi.json"


def prepare(settings: Settings, reset_key: bool = False) -> tuple[Database, Bootstrap]:
    """Create the data dir, migrate the database and make sure the bootstrap key exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, settings.sqlite_synchronous)
    upgrade(db.engine)
    boot = db.write_sync(lambda conn: bootstrap(conn, settings.api_key, reset_key))
    return db, boot


async def healthz(request: Request) -> Response:
    ok = await request.app.state.services.db.ping()
    return JSONResponse({"status": "ok" if ok else "database unreachable"}, status_code=200 if ok else 503)


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:  # Starlette's headers carry the Allow that RFC 9110 requires on a 405
        response = error_envelope(new_request_id(), MethodNotAllowed(f"{request.method} is not allowed here"))
        response.headers.update(exc.headers or {})
        return response
    if exc.status_code == 404:
        return error_envelope(new_request_id(), NotFound(f"Unknown path {request.url.path}"))
    err = PostroomError(str(exc.detail))
    err.status = exc.status_code
    return error_envelope(new_request_id(), err)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = new_request_id()
    log.exception("unexpected error in %s (request_id=%s)", request.url.path, request_id, exc_info=exc)
    return error_envelope(request_id, PostroomError("An unexpected error occurred; see the server log"))


class PostroomApp:
    """Routes /v3/* straight to the API door and everything else through the Starlette site."""

    def __init__(self, site: Starlette, api: V3App) -> None:
        self.site = site
        self.api = api
        self.state = site.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(PREFIX) and path != OPENAPI_PATH:
            await self.api(scope, receive, send)
        else:
            await self.site(scope, receive, send)


def build_smtp(services: Services) -> SmtpServer:
    """The SMTP submission server over the same email service as the HTTP API."""
    handler = SubmissionHandler(
        services.settings,
        services.email,
        services.smtp_users,
        services.ip_access,
        services.feedback,
        accounts=services.subaccounts,
        windows=services.keys.limits.windows,
    )
    return SmtpServer(services.settings, handler, services.ip_access)


def build_app(settings: Settings, db: Database, run_workers: bool | None = None) -> PostroomApp:
    """The HTTP app; its lifespan also runs the SMTP server (unless smtp_port is 0) and the workers."""
    services = build_services(settings, db)
    registry = build_registry()
    workers = settings.workers if run_workers is None else run_workers
    smtp = build_smtp(services) if settings.smtp_port else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db.start()
        task = asyncio.create_task(services.worker.run()) if workers else None
        scheduler = build_scheduler(db, settings) if workers else None
        periodic = asyncio.create_task(scheduler.run()) if scheduler else None
        dispatch = asyncio.create_task(services.dispatcher.run()) if workers else None
        if smtp is not None:
            await smtp.start()
        try:
            yield
        finally:
            try:
                if smtp is not None:
                    await smtp.stop()
            finally:
                services.worker.stop()
                services.dispatcher.stop()
                if dispatch is not None:
                    await dispatch
                if scheduler is not None and periodic is not None:
                    scheduler.stop()
                    await periodic
                if task is not None:
                    await task
                await services.keys.limits.close()
                db.writer.stop()

    routes: list[Any] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route(OPENAPI_PATH, openapi, methods=["GET"]),
        *capture_routes,
        *webhook_api_routes,
        *template_api_routes,
        *single_sender_web_routes,
        *invitation_web_routes,
        *web_routes,
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.services = services
    app.state.smtp = smtp
    app.state.registry = registry
    app.state.openapi = build_openapi(registry)
    return PostroomApp(app, V3App(services, registry))


__all__ = ["PostroomApp", "Services", "build_app", "prepare"]
