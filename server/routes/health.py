"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import migrate
from server.permissions import Access
from server.routes.base import route

READY_TIMEOUT_S = 3


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        with anyio.fail_after(READY_TIMEOUT_S):
            async with runtime.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if checks["database"] == "ok":
        try:
            with anyio.fail_after(READY_TIMEOUT_S):
                current = await anyio.to_thread.run_sync(migrate.current_revisions, runtime.settings.database_url)
            checks["migrations"] = "ok" if current == migrate.head_revisions() else "pending"
        except Exception as exc:
            checks["migrations"] = f"error: {type(exc).__name__}"
    try:
        with anyio.fail_after(READY_TIMEOUT_S):
            await anyio.to_thread.run_sync(runtime.storage.ping, abandon_on_cancel=True)
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [
    route("/healthz", healthz, access=Access.public),
    route("/readyz", readyz, access=Access.public),
    route("/metrics", metrics, access=Access.public),
]
