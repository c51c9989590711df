"""JSON API of online attendance: viewing sessions and a person's record (plus xAPI export).

Heartbeats are answered before the framework: server.routes.heartbeat_endpoint."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.openapi import api_operation
from server.permissions import Access
from server.routes.base import actor_of, json_body, path_int, route, site_base
from server.services import attendance, learning, xapi

TAGS = ["attendance"]


class SessionOpenIn(BaseModel):
    pass


class SessionOut(BaseModel):
    session_id: str
    token: str
    heartbeat_interval_s: int
    resume_position_s: float
    duration_s: float


class AttendanceOut(BaseModel):
    user_id: int
    lecture_id: int
    watched_s: float
    duration_s: float
    coverage: float
    completed: bool
    completed_at: str | None
    anomalies: int
    spans: list[list[float]]
    sessions: int


async def open_session(request: Request) -> Response:
    await json_body(request, SessionOpenIn)
    opened = await attendance.open_session(request.app.state.runtime, actor=await actor_of(request),
                                           lecture_id=path_int(request, "lecture_id"))
    return JSONResponse(asdict(opened), status_code=201)


async def _record(request: Request, *, with_heartbeats: bool) -> learning.AttendanceRecord:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        return await learning.attendance_record(db, actor=actor, lecture_id=path_int(request, "lecture_id"),
                                                user_id=path_int(request, "user_id"),
                                                with_heartbeats=with_heartbeats)


async def attendance_summary(request: Request) -> Response:
    return JSONResponse((await _record(request, with_heartbeats=False)).summary())


async def attendance_xapi(request: Request) -> Response:
    record = await _record(request, with_heartbeats=True)
    body: list[dict[str, Any]] = xapi.statements(record, base_url=site_base(request))
    filename = f"xapi-lecture{record.lecture.id}-user{record.user.id}.json"
    return JSONResponse(body, headers={"Content-Disposition": f'inline; filename="{filename}"'})


api_operation("/api/v1/lectures/{lecture_id:int}/viewing-sessions", "post",
              "开始一次观看（其他页面或设备上的观看随即停止计时）", request=SessionOpenIn, response=SessionOut,
              status=201, tags=TAGS)
api_operation("/api/v1/lectures/{lecture_id:int}/attendance/{user_id:int}", "get",
              "某人某讲座的学习记录（有效秒数、覆盖率、是否完成、异常次数）", response=AttendanceOut, tags=TAGS)
api_operation("/api/v1/lectures/{lecture_id:int}/attendance/{user_id:int}/xapi", "get",
              "导出某人某讲座的 xAPI 学习记录（含已播放片段）", response=list[dict[str, Any]], tags=TAGS)

routes = [
    route("/api/v1/lectures/{lecture_id:int}/viewing-sessions", open_session, access=Access.signed_in,
          methods=("POST",)),
    route("/api/v1/lectures/{lecture_id:int}/attendance/{user_id:int}", attendance_summary,
          access=Access.signed_in),
    route("/api/v1/lectures/{lecture_id:int}/attendance/{user_id:int}/xapi", attendance_xapi,
          access=Access.signed_in),
]
