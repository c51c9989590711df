"""POST /api/v1/viewing-sessions/{id}/heartbeats, answered in front of the framework.

Heartbeats are most of a busy server's requests (every viewer, every ~10 s). Starlette's routing over
~125 routes, its request and response objects and the body-limit and CSRF middleware cost more than
the heartbeat's own work, and the heartbeat needs none of them: it is authorised by the session token
in its body (no cookie, so no CSRF to check; sendBeacon could not send the header anyway), its body is
tiny and bounded here, and its reply is a small JSON object. Errors are answered by the app's own
handlers, so they look like every other API error; anything unexpected propagates to Starlette's
ServerErrorMiddleware (a logged 500), which sits outside this one.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from server import keys
from server.errors import AppError, NotFound, TooLarge
from server.middleware import header, send_body
from server.openapi import api_operation
from server.routes.base import parse_json
from server.rules.credit import Beat
from server.services import heartbeat as heartbeats

PATH = re.compile(r"/api/v1/viewing-sessions/([^/]+)/heartbeats")
MAX_BODY_BYTES = 4096  # a heartbeat is about 200 bytes
INT32 = 2**31 - 1
# One encoder for every reply: json.dumps with non-default separators builds a new one per call.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


class HeartbeatIn(BaseModel):
    token: str = Field(min_length=1, max_length=100)
    seq: int = Field(ge=1, le=INT32)
    position_s: float = Field(ge=0, le=10**6, allow_inf_nan=False)
    rate: float = Field(gt=0, le=64, allow_inf_nan=False)
    paused: bool
    visible: bool = True
    event: Literal["tick", "play", "pause", "seek", "ratechange", "visibility", "pagehide", "ended"]
    client_elapsed_ms: int = Field(ge=0, le=INT32)


class HeartbeatOut(BaseModel):
    accepted: bool
    duplicate: bool
    watched_s: float
    coverage: float
    completed: bool


api_operation("/api/v1/viewing-sessions/{session_id}/heartbeats", "post",
              "播放心跳（凭观看凭证，无需 CSRF；按 (session, seq) 幂等）", request=HeartbeatIn,
              response=HeartbeatOut, tags=["attendance"])


class HeartbeatEndpoint:
    """ASGI middleware: heartbeat requests are answered here, everything else goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The suffix test turns every other request away without running the expression.
        is_beat = scope["type"] == "http" and scope["path"].endswith("/heartbeats")
        match = PATH.fullmatch(_route_path(scope)) if is_beat else None
        if match is None:
            await self.app(scope, receive, send)
            return
        try:
            reply = await _heartbeat(scope, receive, match[1])
        except (AppError, HTTPException) as exc:
            await _answer_error(scope, receive, send, exc)
            return
        await send_body(send, 200, reply, b"application/json")


async def _heartbeat(scope: Scope, receive: Receive, session_id: str) -> bytes:
    if scope["method"] != "POST":
        raise HTTPException(405)
    if not keys.is_uuid(session_id):
        raise NotFound("观看记录不存在", code="unknown_session")
    content_type = header(scope, b"content-type").decode("latin-1")
    body = parse_json(await _read_body(receive), content_type, HeartbeatIn, allow_text_plain=True)
    beat = Beat(body.seq, body.position_s, body.rate, body.paused, body.visible, body.event, body.client_elapsed_ms)
    outcome = await heartbeats.record_heartbeat(scope["app"].state.runtime, session_id=session_id,
                                                beat_in=heartbeats.BeatIn(body.token, beat))
    return _compact_json(outcome._asdict()).encode()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AppError("连接已断开", code="client_disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge("提交的内容过大")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer_error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """The reply the app's exception handlers give ``exc`` (looked up as Starlette does, by class)."""
    handlers = scope["app"].exception_handlers
    handler = next(handlers[cls] for cls in type(exc).__mro__ if cls in handlers)
    response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path
