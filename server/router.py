"""Dispatch by the path's first segment: Starlette's router without trying every route in turn.

Starlette tries routes in order until one matches fully. With ~125 routes a search page was first turned
away by ten routes and an admin page by over a hundred (4 and 50 µs). A route whose path starts with a
literal segment (``/lectures/{id}``, ``/admin/...``) only matches paths with that first segment, so the
router keeps, per first segment, those routes and the routes that could match any path (a parameter
first, or not a plain route), in their original order: the first full match among them is the first
full match in the whole list. Requests without a full match (405, trailing-slash redirects, 404) and
everything that is not HTTP go through Starlette's own dispatch, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Mount, Route, Router, get_route_path
from starlette.types import Receive, Scope, Send

Index = tuple[dict[str, list[BaseRoute]], list[BaseRoute]]  # routes per first segment, routes for any path


def first_segment(route_path: str) -> str:
    """``/lectures/5`` -> ``lectures``; ``/`` -> the empty segment."""
    return route_path[1:].split("/", 1)[0]


def route_segment(route: BaseRoute) -> str | None:
    """The first segment of every path ``route`` can match, or None if that could be anything."""
    if not isinstance(route, Route | Mount) or not route.path.startswith("/"):
        return None
    segment = first_segment(route.path)
    return None if "{" in segment else segment


def build_index(routes: Sequence[BaseRoute]) -> Index:
    segments = [route_segment(r) for r in routes]
    anywhere = [r for r, s in zip(routes, segments, strict=True) if s is None]
    by_segment = {
        segment: [r for r, s in zip(routes, segments, strict=True) if s is None or s == segment]
        for segment in set(segments) - {None}
    }
    return by_segment, anywhere  # type: ignore[return-value]


def candidates(index: Index, scope: Scope) -> list[BaseRoute]:
    by_segment, anywhere = index
    return by_segment.get(first_segment(get_route_path(scope)), anywhere)


class SegmentRouter(Router):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._index: Index = ({}, [])
        self._indexed = -1

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Routes are added before serving (the benchmarks add one to the app's list): follow the count.
            if self._indexed != len(self.routes):
                self._index, self._indexed = build_index(self.routes), len(self.routes)
            for route in candidates(self._index, scope):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
