"""Route declaration with an access level, and the request/response helpers routes share.

Every route in the app is built with ``route()``, so each one carries its ``Access`` (checked here
before the endpoint runs) and the authorisation-matrix test can enumerate them all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Route, get_route_path
from starlette.types import Scope

from server.auth import Principal, load_principal
from server.errors import AppError, Forbidden, Invalid, UnsupportedMediaType
from server.ids import MAX_ID_DIGITS, parse_id
from server.middleware import header, wants_json
from server.permissions import Access, Actor, passes

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_JSON_DEPTH = 32
MALFORMED = "请求内容不是有效的 UTF-8 JSON"
M = TypeVar("M", bound=BaseModel)


class IdConvertor(Convertor[int]):
    """{x:int} path segments: longer numbers than an id can be are "not found", not an overflow error."""

    regex = f"[0-9]{{1,{MAX_ID_DIGITS}}}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


# Replaces Starlette's unbounded {x:int} before any route module builds its routes (they all import this one).
register_url_convertor("int", IdConvertor())


class AccessRoute(Route):
    """A route with its access level, and cheap matching: the app has ~125 routes and Starlette tries them
    in order, so most requests are first rejected by many routes.

    A path without parameters matches exactly its own text (the regular expression Starlette compiles
    for it is that text, anchored), so it is compared as a string. A path with parameters first checks
    its literal head (everything before the first parameter) with a substring test, which only ever
    rejects paths the regular expression would reject too (the head must appear in any path the route
    matches, wherever a root path puts it)."""

    access: Access

    def __init__(self, path: str, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.literal_head = path.split("{", 1)[0]
        self.exact = self.literal_head == path

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.exact:
            if scope["type"] != "http" or get_route_path(scope) != self.path:
                return Match.NONE, {}
            child_scope = {"endpoint": self.endpoint, "path_params": dict(scope.get("path_params", {}))}
            return (Match.FULL if not self.methods or scope["method"] in self.methods else Match.PARTIAL), child_scope
        if self.literal_head not in scope.get("path", ""):
            return Match.NONE, {}
        return super().matches(scope)


def route(path: str, endpoint: Endpoint, *, access: Access, methods: tuple[str, ...] = ("GET",),
          name: str | None = None) -> AccessRoute:
    async def guarded(request: Request) -> Response:
        if access is Access.public:
            return await endpoint(request)  # no session lookup on hot public paths (heartbeats, health)
        principal = await load_principal(request)
        settings = request.app.state.runtime.settings
        actor = principal.actor if principal else None
        if not passes(access, actor, anonymous_browse=settings.allow_anonymous_browse):
            if principal is None:
                if wants_json(request.scope) or request.method != "GET":
                    return JSONResponse({"error": "请先登录", "code": "login_required"}, status_code=401)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            raise Forbidden("您没有权限访问此页面")
        if principal is not None and principal.must_change_password \
                and not wants_json(request.scope) and request.url.path not in ("/me/password", "/logout"):
            return RedirectResponse("/me/password", status_code=303)
        return await endpoint(request)

    guarded.__name__ = endpoint.__name__
    r = AccessRoute(path, guarded, methods=list(methods), name=name or endpoint.__name__)
    r.access = access
    return r


async def principal_of(request: Request) -> Principal:
    principal = await load_principal(request)
    if principal is None:
        raise Forbidden("请先登录", code="login_required")
    return principal


async def actor_of(request: Request) -> Actor:
    return (await principal_of(request)).actor


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


async def json_body(request: Request, model: type[M]) -> M:
    """The request's JSON body validated into ``model``; every failure is a 4xx with a Chinese message."""
    return parse_json(await request.body(), request.headers.get("content-type", ""), model)


def parse_json(raw: bytes, content_type: str, model: type[M], *, allow_text_plain: bool = False) -> M:
    """Parse and validate a JSON body into ``model``; every failure is an AppError (4xx).

    Pydantic parses and validates the raw bytes in one pass. The two checks before it look at the bytes:
    JSON can carry U+0000 (which PostgreSQL text cannot hold) only as the escape ``\\u0000``, and a
    body can nest deeper than MAX_JSON_DEPTH only if it has more brackets than that, so only such a
    body is parsed beforehand to measure its depth."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype != "application/json" and not (allow_text_plain and ctype == "text/plain"):
        raise UnsupportedMediaType("请求格式应为 JSON（Content-Type: application/json）")
    raw = raw or b"{}"
    if b"\\u0000" in raw:
        raise AppError("提交的内容包含无效字符（U+0000）", code="nul_character")
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, integers too long to convert
            raise AppError(MALFORMED, code="malformed_json") from None
        if _depth(data) > MAX_JSON_DEPTH:
            raise AppError("JSON 嵌套层级过深", code="json_too_deep")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            raise AppError(MALFORMED, code="malformed_json") from None
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in errors}
        raise Invalid("提交的数据不完整或格式不正确", fields=fields) from None


def site_base(request: Request) -> str:
    """The site's base URL (no trailing slash) for links that leave the page: share links, og:url, QR codes.
    The configured public URL, else what this request was addressed to (read from the scope: this runs for
    every shared-page request, and building URL objects costs more than the rest of a cached page)."""
    public = request.app.state.runtime.settings.public_url
    if public:
        return str(public).rstrip("/")
    host = header(request.scope, b"host")
    if not host:
        return str(request.base_url).rstrip("/")
    return f"{request.scope.get('scheme', 'http')}://{host.decode('latin-1')}{request.scope.get('root_path', '')}"


def path_int(request: Request, name: str) -> int:
    value = request.path_params[name]
    if isinstance(value, int):
        return value
    parsed = parse_id(value)
    if parsed is None:
        raise Invalid("链接中的编号无效")
    return parsed


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
