"""Public pages that belong to no other feature."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.permissions import Access
from server.routes.base import route
from server.templating import render


async def home(request: Request) -> Response:
    return await render(request, "home.html")


routes = [route("/", home, access=Access.public)]
