"""Pure-ASGI middleware: request body size limit and CSRF (double-submit cookie).

CSRF: every unsafe request must echo the ``jt_csrf`` cookie in the ``X-CSRF-Token`` header (fetch)
or in a ``csrf_token`` form field (HTML forms). Player heartbeats, authorised by a per-session secret
in the body and sent with sendBeacon (which cannot set headers), are answered before this middleware
(server.routes.heartbeat_endpoint).
"""

from __future__ import annotations

import json

from starlette.datastructures import FormData
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.security import new_token, tokens_equal

CSRF_COOKIE = "jt_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_COOKIES = "jt.cookies"  # request_cookies' entry in the request state


class BodyTooLarge(Exception):
    pass


async def send_body(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    """A whole response in two ASGI messages, without a Response object."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, status: int, message: str, code: str, *, json_body: bool) -> None:
    if json_body:
        body = json.dumps({"error": message, "code": code}, ensure_ascii=False).encode()
        ctype = b"application/json"
    else:
        body = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{message}</title>'
                f'<body style="font-family:sans-serif;padding:2em"><h1>{message}</h1>'
                f'<p><a href="javascript:history.back()">返回上一页</a></p></body></html>').encode()
        ctype = b"text/html; charset=utf-8"
    await send_body(send, status, body, ctype)


def header(scope: Scope, name: bytes) -> bytes:
    """The first value of request header ``name`` (lower case), or b"": cheaper on hot paths than building
    Starlette's Headers, which decodes every header of the request."""
    return next((value for key, value in scope["headers"] if key == name), b"")


def request_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, parsed once per request: the CSRF check and the session lookup both read them,
    each through its own Request object, which would otherwise parse the header again."""
    state = scope.setdefault("state", {})
    cookies: dict[str, str] | None = state.get(_COOKIES)
    if cookies is None:
        cookies = state[_COOKIES] = cookie_parser(header(scope, b"cookie").decode("latin-1"))
    return cookies


def wants_json(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    if path.startswith("/api/"):
        return True
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return b"application/json" in accept and b"text/html" not in accept


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            # No route reads the body of a GET, HEAD or OPTIONS request: nothing to limit.
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await send_error(send, 413, "提交的内容过大", "body_too_large", json_body=wants_json(scope))
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, "提交的内容过大", "body_too_large", json_body=wants_json(scope))


class CSRFMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = request_cookies(scope).get(CSRF_COOKIE)
        fresh = token is None or not (20 <= len(token) <= 100)
        if fresh:
            token = new_token(24)
        scope["state"]["csrf_token"] = token

        if scope["method"] in UNSAFE_METHODS:
            supplied = dict(scope["headers"]).get(CSRF_HEADER.encode(), b"").decode("latin-1")
            if not supplied:
                supplied, receive = await self._form_token(scope, receive)
            if fresh or not supplied or not tokens_equal(supplied, token):
                await send_error(send, 403, "页面已过期或来源不明，请刷新页面后重试", "csrf_failed",
                                 json_body=wants_json(scope))
                return

        if not fresh:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure = scope.get("scheme") == "https"
                value = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
                message.setdefault("headers", []).append((b"set-cookie", value.encode()))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _form_token(self, scope: Scope, receive: Receive) -> tuple[str, Receive]:
        """Read the whole body (BodyLimitMiddleware bounds it) to find csrf_token, then replay it to the app."""
        ctype = dict(scope["headers"]).get(b"content-type", b"")
        if not ctype.startswith((b"application/x-www-form-urlencoded", b"multipart/form-data")):
            return "", receive
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)

        def replay_factory() -> Receive:
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return replay

        value = ""
        try:
            form: FormData = await Request(scope, replay_factory()).form(max_files=100, max_fields=2000)
            field = form.get(CSRF_FIELD)
            value = field if isinstance(field, str) else ""
            await form.close()
        except Exception:
            value = ""
        return value, replay_factory()
