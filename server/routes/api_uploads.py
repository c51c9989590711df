"""JSON API of resumable uploads and the processing status of a lecture's recording."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.openapi import api_operation
from server.permissions import Access
from server.routes.base import actor_of, json_body, path_int, route
from server.services import media as media_service
from server.services import uploads
from server.services.uploads import MAX_URLS_PER_REQUEST


class UploadCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=0)
    content_type: str = Field(default="application/octet-stream", max_length=200)
    last_modified: int = Field(default=0, ge=0)


class UploadPlanOut(BaseModel):
    upload_id: str
    part_size: int
    part_count: int
    uploaded_parts: list[int]


class PartUrlsIn(BaseModel):
    part_numbers: list[int] = Field(min_length=1, max_length=MAX_URLS_PER_REQUEST)


class PartUrlsOut(BaseModel):
    urls: dict[str, str]


class CompleteIn(BaseModel):
    pass


class CompleteOut(BaseModel):
    media_id: str
    state: str


class MediaStatusOut(BaseModel):
    state: str
    percent: float
    eta_s: int | None
    message: str
    playable: bool


TAGS = ["上传与转码"]
api_operation("/api/v1/lectures/{lecture_id:int}/uploads", "post", "开始或续传一个录像上传",
              request=UploadCreate, response=UploadPlanOut, status=201, tags=TAGS)
api_operation("/api/v1/uploads/{upload_id}/part-urls", "post", "获取分片的预签名上传地址",
              request=PartUrlsIn, response=PartUrlsOut, tags=TAGS)
api_operation("/api/v1/uploads/{upload_id}/complete", "post", "完成上传并开始转码",
              request=CompleteIn, response=CompleteOut, tags=TAGS)
api_operation("/api/v1/uploads/{upload_id}", "delete", "取消上传", status=204, tags=TAGS)
api_operation("/api/v1/lectures/{lecture_id:int}/media-status", "get", "录像处理进度",
              response=MediaStatusOut, tags=TAGS)


async def create_upload(request: Request) -> Response:
    body = await json_body(request, UploadCreate)
    plan = await uploads.start_upload(
        request.app.state.runtime, actor=await actor_of(request), lecture_id=path_int(request, "lecture_id"),
        filename=body.filename, size=body.size, content_type=body.content_type, last_modified=body.last_modified)
    out = UploadPlanOut(upload_id=plan.upload_id, part_size=plan.part_size, part_count=plan.part_count,
                        uploaded_parts=plan.uploaded_parts)
    return JSONResponse(out.model_dump(), status_code=200 if plan.resumed else 201)


async def part_urls(request: Request) -> Response:
    body = await json_body(request, PartUrlsIn)
    urls = await uploads.part_urls(request.app.state.runtime, actor=await actor_of(request),
                                   upload_id=request.path_params["upload_id"], part_numbers=body.part_numbers)
    return JSONResponse({"urls": urls})


async def complete(request: Request) -> Response:
    await json_body(request, CompleteIn)
    media = await uploads.complete_upload(request.app.state.runtime, actor=await actor_of(request),
                                          upload_id=request.path_params["upload_id"])
    return JSONResponse({"media_id": media.id, "state": media.state.value})


async def abort(request: Request) -> Response:
    await uploads.abort_upload(request.app.state.runtime, actor=await actor_of(request),
                               upload_id=request.path_params["upload_id"])
    return Response(status_code=204)


async def media_status(request: Request) -> Response:
    runtime = request.app.state.runtime
    actor = await actor_of(request)
    async with runtime.sessions() as db:
        lecture = await uploads.editable_lecture(db, actor, path_int(request, "lecture_id"))
        status = await media_service.lecture_media_status(db, lecture)
    return JSONResponse(media_service.status_json(status), headers={"Cache-Control": "no-store"})


routes = [
    route("/api/v1/lectures/{lecture_id:int}/uploads", create_upload, access=Access.lecturer, methods=("POST",)),
    route("/api/v1/uploads/{upload_id}/part-urls", part_urls, access=Access.lecturer, methods=("POST",)),
    route("/api/v1/uploads/{upload_id}/complete", complete, access=Access.lecturer, methods=("POST",)),
    route("/api/v1/uploads/{upload_id}", abort, access=Access.lecturer, methods=("DELETE",)),
    route("/api/v1/lectures/{lecture_id:int}/media-status", media_status, access=Access.lecturer),
]
