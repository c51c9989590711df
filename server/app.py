"""Application assembly: routes, middleware, error handlers, lifespan. Nothing else lives here."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from psycopg.errors import NumericValueOutOfRange
from sqlalchemy.exc import DataError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount

from server.catalogue_events import CatalogueListener
from server.db import libpq_url
from server.errors import AppError, Invalid
from server.middleware import BodyLimitMiddleware, CSRFMiddleware, wants_json
from server.router import SegmentRouter
from server.routes import (
    admin_audit,
    admin_catalogue,
    admin_import,
    admin_lectures,
    admin_people,
    admin_units,
    api_attendance,
    api_catalogue,
    api_people,
    api_reports,
    api_uploads,
    auth,
    checkin,
    dashboard,
    health,
    learning,
    lecturers,
    me,
    openapi_doc,
    pages,
    playback,
    public,
)
from server.routes.heartbeat_endpoint import HeartbeatEndpoint
from server.runtime import Runtime
from server.settings import Settings
from server.static import CachedStaticFiles
from server.templating import STATIC_DIR, make_environment, render

log = structlog.get_logger()
GC_YOUNG_THRESHOLD = 50_000


def all_routes() -> list[BaseRoute]:
    # Tried in order among those sharing a first path segment (server.router): the pages every visitor browses
    # come first (heartbeats, hotter still, never get here: HeartbeatEndpoint).
    return [
        *pages.routes, *lecturers.routes, *public.routes,
        *health.routes, *openapi_doc.routes, *api_uploads.routes, *playback.routes,
        *admin_catalogue.routes, *admin_lectures.routes, *api_catalogue.routes,
        *api_attendance.routes, *learning.routes,
        *checkin.routes, *dashboard.routes, *api_reports.routes,
        *auth.routes, *me.routes, *admin_people.routes, *admin_units.routes, *admin_import.routes,
        *admin_audit.routes, *api_people.routes,
        Mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static"),
    ]


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if wants_json(request.scope):
        body: dict[str, object] = {"error": exc.message, "code": exc.code}
        if exc.fields:
            body["fields"] = exc.fields
        return JSONResponse(body, status_code=exc.status)
    return await render(request, "error.html", {"message": exc.message, "status": exc.status},
                        status=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "页面不存在", 405: "不支持的请求方式", 400: "请求无效"}
    message = messages.get(exc.status_code, "请求无法处理")
    if wants_json(request.scope):
        return JSONResponse({"error": message, "code": f"http_{exc.status_code}"}, status_code=exc.status_code)
    return await render(request, "error.html", {"message": message, "status": exc.status_code},
                        status=exc.status_code)


async def _data_error(request: Request, exc: Exception) -> Response:
    # A number the client sent that PostgreSQL cannot hold (an id or count beyond its integer range) is the
    # client's mistake; any other data error is ours.
    if isinstance(getattr(exc, "orig", None), NumericValueOutOfRange):
        return await _app_error(request, Invalid("提交的数值超出允许范围", code="out_of_range"))
    return await _server_error(request, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled_error", path=request.url.path)
    message = "服务器开小差了，请稍后重试"
    if wants_json(request.scope):
        return JSONResponse({"error": message, "code": "server_error"}, status_code=500)
    return Response(f"<h1>{message}</h1>", status_code=500, media_type="text/html; charset=utf-8")


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await app.state.runtime.open()
        listener = CatalogueListener(libpq_url(app.state.runtime.engine.url.render_as_string(hide_password=False)))
        listener.start()
        app.state.catalogue_listener = listener
        # Everything alive after start-up (modules, templates, pools) lives as long as the process: keep it
        # out of the collector's full passes, which would otherwise stall every request for tens of ms.
        gc.collect()
        gc.freeze()
        # Requests allocate thousands of short-lived objects; at the default threshold (700) the young
        # generation was collected every few requests, and those passes took an eighth of a heartbeat's
        # CPU. Cycles (futures, tracebacks) still get collected, a few MB later.
        gc.set_threshold(GC_YOUNG_THRESHOLD)  # older generations keep their default thresholds
        try:
            yield
        finally:
            await listener.stop()
            await app.state.runtime.close()

    app = Starlette(
        middleware=[
            Middleware(HeartbeatEndpoint),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(CSRFMiddleware),
        ],
        exception_handlers={AppError: _app_error, HTTPException: _http_error, DataError: _data_error,
                            Exception: _server_error},
    )
    app.router = SegmentRouter(all_routes(), lifespan=lifespan)
    app.state.runtime = runtime or Runtime.build(settings)
    app.state.templates = make_environment(auto_reload=settings.env == "development")
    return app
