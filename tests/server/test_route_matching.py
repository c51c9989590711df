"""AccessRoute's cheap matching decides exactly what Starlette's own matching decides."""

from __future__ import annotations

import pytest
from starlette.responses import Response
from starlette.routing import Match, Route

from server.middleware import request_cookies
from server.permissions import Access
from server.routes.base import route


async def _endpoint(_: object) -> Response:
    return Response()


def _scope(path: str, method: str = "GET", root_path: str = "", kind: str = "http") -> dict[str, object]:
    return {"type": kind, "path": path, "method": method, "root_path": root_path, "headers": []}


@pytest.mark.parametrize("pattern", ["/", "/search", "/lectures/{id:int}", "/lectures/{id}/qr.svg"])
@pytest.mark.parametrize("path", ["/", "/search", "/search/", "/searchx", "/lectures/12", "/lectures/12/qr.svg",
                                  "/app/search", "/lectures/x", ""])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize("root_path", ["", "/app"])
def test_matches_like_starlette(pattern: str, path: str, method: str, root_path: str) -> None:
    ours = route(pattern, _endpoint, access=Access.browse)
    theirs = Route(pattern, ours.endpoint, methods=["GET"])
    scope = _scope(path, method, root_path)
    got, got_child = ours.matches(scope)
    want, want_child = theirs.matches(scope)
    assert got is want
    assert got_child == want_child


def test_other_scope_types_never_match() -> None:
    assert route("/search", _endpoint, access=Access.browse).matches(_scope("/search", kind="websocket"))[0] \
        is Match.NONE


def test_cookies_are_parsed_once_per_request() -> None:
    scope = {"headers": [(b"host", b"x"), (b"cookie", b"jt_session=abc; jt_csrf=def")]}
    first = request_cookies(scope)
    assert first == {"jt_session": "abc", "jt_csrf": "def"}
    scope["headers"] = []  # a second read comes from the request state, not the header
    assert request_cookies(scope) is first
    assert request_cookies({"headers": []}) == {}
