"""Serves the OpenAPI document of every registered /api/v1 operation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.openapi import build_document
from server.permissions import Access
from server.routes.base import route


async def openapi_json(request: Request) -> Response:
    settings = request.app.state.runtime.settings
    return JSONResponse(build_document(title=f"{settings.site_name} API"))


routes = [route("/api/v1/openapi.json", openapi_json, access=Access.public)]
