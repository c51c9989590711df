"""The first-segment router picks the route Starlette's in-order search picks, for the app's real routes."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute

from server.app import all_routes
from server.router import SegmentRouter, build_index, candidates, first_segment, route_segment

SAMPLES = ["12", "abc", "0", "x.y"]


def _scope(path: str, method: str, root_path: str = "") -> dict[str, object]:
    return {"type": "http", "path": root_path + path, "root_path": root_path, "method": method, "headers": [],
            "path_params": {}}


def _first_full(routes: list[BaseRoute], scope: dict[str, object]) -> BaseRoute | None:
    return next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)


def _paths(routes: list[BaseRoute]) -> set[str]:
    """Every route's path with its parameters filled in several ways, and near misses of each."""
    paths = {"/", "//", "/nothing-here", "/static/css/app.css", "/static", ""}
    for r in routes:
        if isinstance(r, Route | Mount):
            for sample in SAMPLES:
                path = re.sub(r"\{[^}]*\}", sample, r.path)
                paths |= {path, path + "/", path.rstrip("/") + "x", "/x" + path, path + "/extra"}
    return paths


def test_pure_segments() -> None:
    assert first_segment("/lectures/5") == "lectures"
    assert first_segment("/") == ""
    assert first_segment("/search") == "search"
    assert route_segment(Route("/lectures/{id:int}", PlainTextResponse)) == "lectures"
    assert route_segment(Route("/", PlainTextResponse)) == ""
    assert route_segment(Route("/{slug}", PlainTextResponse)) is None
    assert route_segment(Route("/file.{ext}", PlainTextResponse)) is None
    assert route_segment(Mount("/static", routes=[])) == "static"
    assert route_segment(Mount("", routes=[])) is None
    assert route_segment(WebSocketRoute("/ws", PlainTextResponse)) is None


@pytest.mark.parametrize("root_path", ["", "/jt"])
def test_the_apps_routes_resolve_as_starlette_resolves_them(root_path: str) -> None:
    routes = all_routes()
    index = build_index(routes)
    checked = 0
    for path in sorted(_paths(routes)):
        for method in ("GET", "POST", "HEAD", "DELETE"):
            scope = _scope(path, method, root_path)
            assert _first_full(candidates(index, scope), scope) is _first_full(routes, scope), (method, path)
            checked += 1
    assert checked > 2000


def _app() -> Starlette:
    async def named(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.scope["route"].path)

    app = Starlette()
    app.router = SegmentRouter([
        Route("/b", named, methods=["POST"]),
        Route("/a/{x}", named),
        Route("/{anything}", named),
    ])
    return app


async def _get(app: Starlette, path: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, path)


async def test_order_partial_matches_redirects_and_not_found() -> None:
    app = _app()
    assert (await _get(app, "/a/1")).text == "/a/{x}"
    assert (await _get(app, "/b")).text == "/{anything}"  # a later full match beats an earlier method mismatch
    assert (await _get(app, "/b", "POST")).text == "/b"
    assert (await _get(app, "/a/1/2")).status_code == 404
    redirect = await _get(app, "/a/1/")
    assert redirect.status_code == 307 and redirect.headers["location"] == "http://t/a/1"


async def test_routes_added_after_the_first_request_are_dispatched() -> None:
    app = _app()
    assert (await _get(app, "/z/1")).status_code == 404

    async def late(_: Request) -> PlainTextResponse:
        return PlainTextResponse("late")

    app.router.routes.insert(0, Route("/z/{n}", late))
    assert (await _get(app, "/z/1")).text == "late"
