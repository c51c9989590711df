"""JSON API for the roster, series, lectures, workflow and search (/api/v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import client_ip, load_principal
from server.db import transaction
from server.errors import Forbidden, Invalid
from server.ids import parse_id
from server.models.catalogue import Lecture, Lecturer, Series
from server.openapi import api_operation
from server.pagination import Page
from server.permissions import Access
from server.routes.base import actor_of, json_body, path_int, route
from server.routes.catalogue_view import page_of
from server.services import catalogue, lecture_admin, lecture_delete, roster, search, snapshot
from server.services.images import image_url
from server.workflow import Action

TAGS = ["catalogue"]


class LecturerOut(BaseModel):
    id: int
    name: str
    category: str
    honours: list[str]
    work_unit: str
    bio: str
    topics: list[str]
    photo_url: str | None
    user_id: int | None


class LecturerIn(BaseModel):
    name: str
    category: str
    honours: list[str] = []
    work_unit: str = ""
    bio: str = ""
    topics: list[str] = []
    user_id: int | None = None


class SeriesOut(BaseModel):
    id: int
    title: str
    description: str
    sort: int
    featured: bool
    cover_url: str | None


class SeriesIn(BaseModel):
    title: str
    description: str = ""
    sort: int = 0
    featured: bool = False


class LectureOut(BaseModel):
    id: int
    title: str
    summary: str
    kind: str
    status: str
    series_id: int | None
    tags: list[str]
    cover_url: str | None
    lecturer_ids: list[int]
    venue_type: str | None
    address: str
    starts_at: datetime | None
    ends_at: datetime | None
    capacity: int | None
    completion_ratio: float
    max_rate: float
    credit_hidden: bool
    published_at: datetime | None


class LectureIn(BaseModel):
    title: str
    summary: str = ""
    series_id: int | None = None
    kind: str = "online"
    tags: list[str] = []
    lecturer_ids: list[int] = []
    venue_type: str | None = None
    address: str = ""
    starts_at: str | None = None
    ends_at: str | None = None
    capacity: int | None = None
    target_unit_ids: list[int] = []
    completion_ratio: float = 90
    max_rate: float = 2
    credit_hidden: bool = False


class TransitionIn(BaseModel):
    action: Action
    note: str = ""


class PageOut(BaseModel):
    page: int
    pages: int
    total: int


class LecturerPage(PageOut):
    items: list[LecturerOut]


class LecturePage(PageOut):
    items: list[LectureOut]


class SearchOut(BaseModel):
    query: str
    lectures: LecturePage
    lecturers: LecturerPage
    series: list[SeriesOut]


def lecturer_out(lr: Lecturer) -> dict[str, Any]:
    return LecturerOut(photo_url=image_url(lr.photo_key, 320), **lr.model_dump(exclude={"photo_key"})).model_dump()


def series_out(s: Series) -> dict[str, Any]:
    return SeriesOut(cover_url=image_url(s.cover_key, 640), **s.model_dump(exclude={"cover_key"})).model_dump()


def lecture_out(lec: Lecture, lecturer_ids: list[int]) -> dict[str, Any]:
    return LectureOut(cover_url=image_url(lec.cover_key, 640), lecturer_ids=lecturer_ids,
                      **lec.model_dump(exclude={"cover_key"})).model_dump(mode="json")


def page_out(page: Page, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"page": page.page, "pages": page.pages, "total": page.total, "items": items}


def ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def _lectures_out(db: Any, page: Page) -> dict[str, Any]:
    billed = await catalogue.lecturers_of(db, [lec.id for lec in page.items])
    return page_out(page, [lecture_out(lec, [lr.id for lr in billed[lec.id]]) for lec in page.items])


async def list_lecturers(request: Request) -> Response:
    async with request.app.state.runtime.sessions() as db:
        page = await roster.list_lecturers(db, category=request.query_params.get("category"),
                                           q=request.query_params.get("q", ""), page=page_of(request))
    return ok(page_out(page, [lecturer_out(lr) for lr in page.items]))


async def get_lecturer(request: Request) -> Response:
    async with request.app.state.runtime.sessions() as db:
        return ok(lecturer_out(await roster.get_lecturer(db, path_int(request, "id"))))


async def save_lecturer(request: Request) -> Response:
    actor = await actor_of(request)
    lecturer_id = path_int(request, "id") if "id" in request.path_params else None
    body = await json_body(request, LecturerIn)
    async with request.app.state.runtime.sessions() as db:
        own = await roster.lecturer_for_user(db, actor.user_id)
    is_self = own is not None and lecturer_id is not None and own.id == lecturer_id
    if not actor.is_admin and not is_self:
        raise Forbidden("只有管理员或讲师本人可以修改讲师资料")
    values, errors = roster.clean_lecturer(body.model_dump(), allow_link=actor.is_admin)
    if errors:
        raise Invalid("提交的数据不完整或格式不正确", fields=errors)
    if actor.is_admin and body.user_id is not None:
        values["user_id"] = body.user_id
    async with transaction(request.app.state.runtime.sessions) as db:
        saved = await roster.save_lecturer(db, actor=actor, lecturer_id=lecturer_id, values=values,
                                           ip=client_ip(request))
    snapshot.forget()
    return ok(lecturer_out(saved), 201 if lecturer_id is None else 200)


async def delete_lecturer(request: Request) -> Response:
    async with transaction(request.app.state.runtime.sessions) as db:
        await roster.delete_lecturer(db, actor=await actor_of(request), lecturer_id=path_int(request, "id"),
                                     ip=client_ip(request))
    snapshot.forget()
    return Response(status_code=204)


async def list_series(request: Request) -> Response:
    async with request.app.state.runtime.sessions() as db:
        rows = await catalogue.all_series(db)
    return ok([series_out(s) for s, _ in rows])


async def get_series(request: Request) -> Response:
    series_id = path_int(request, "id")
    async with request.app.state.runtime.sessions() as db:
        series = await catalogue.get_series(db, series_id)
        lectures = await _lectures_out(db, await catalogue.published_page(db, page=page_of(request),
                                                                          series_id=series_id))
    return ok({**series_out(series), "lectures": lectures})


async def save_series(request: Request) -> Response:
    series_id = path_int(request, "id") if "id" in request.path_params else None
    body = await json_body(request, SeriesIn)
    values, errors = catalogue.clean_series(body.model_dump())
    if errors:
        raise Invalid("提交的数据不完整或格式不正确", fields=errors)
    async with transaction(request.app.state.runtime.sessions) as db:
        saved = await catalogue.save_series(db, actor=await actor_of(request), series_id=series_id,
                                            values=values, ip=client_ip(request))
    snapshot.forget()
    return ok(series_out(saved), 201 if series_id is None else 200)


async def delete_series(request: Request) -> Response:
    async with transaction(request.app.state.runtime.sessions) as db:
        await catalogue.delete_series(db, actor=await actor_of(request), series_id=path_int(request, "id"),
                                      ip=client_ip(request))
    snapshot.forget()
    return Response(status_code=204)


async def list_lectures(request: Request) -> Response:
    series = request.query_params.get("series_id", "")
    lecturer = request.query_params.get("lecturer_id", "")
    async with request.app.state.runtime.sessions() as db:
        page = await catalogue.published_page(db, page=page_of(request),
                                              series_id=parse_id(series), lecturer_id=parse_id(lecturer))
        return ok(await _lectures_out(db, page))


async def get_lecture(request: Request) -> Response:
    principal = await load_principal(request)
    async with request.app.state.runtime.sessions() as db:
        data = await catalogue.lecture_view(db, path_int(request, "id"), principal.actor if principal else None)
    return ok({**lecture_out(data.lecture, [lr.id for lr in data.lecturers]), "can_edit": data.can_edit})


async def save_lecture(request: Request) -> Response:
    lecture_id = path_int(request, "id") if "id" in request.path_params else None
    body = await json_body(request, LectureIn)
    raw = body.model_dump()
    raw["completion_ratio"] = str(body.completion_ratio)
    values, ids, errors = lecture_admin.clean_lecture(raw, body.lecturer_ids)
    if errors:
        raise Invalid("提交的数据不完整或格式不正确", fields=errors)
    async with transaction(request.app.state.runtime.sessions) as db:
        saved = await lecture_admin.save_lecture(db, actor=await actor_of(request), lecture_id=lecture_id,
                                                 values=values, lecturer_ids=ids, ip=client_ip(request))
    snapshot.forget()
    return ok(lecture_out(saved, ids), 201 if lecture_id is None else 200)


async def delete_lecture(request: Request) -> Response:
    await lecture_delete.delete_lecture(request.app.state.runtime, actor=await actor_of(request),
                                        lecture_id=path_int(request, "id"), ip=client_ip(request))
    snapshot.forget()
    return Response(status_code=204)


async def transition(request: Request) -> Response:
    body = await json_body(request, TransitionIn)
    async with transaction(request.app.state.runtime.sessions) as db:
        saved = await lecture_admin.transition(db, actor=await actor_of(request), lecture_id=path_int(request, "id"),
                                               action=body.action, note=body.note, ip=client_ip(request))
    snapshot.forget()
    return ok({"id": saved.id, "status": saved.status.value})


async def search_api(request: Request) -> Response:
    async with request.app.state.runtime.sessions() as db:
        found = await search.search(db, q=request.query_params.get("q", ""),
                                    kind=request.query_params.get("type", "all"), page=page_of(request))
        lectures = await _lectures_out(db, found.lectures)
    return ok({"query": found.query, "lectures": lectures,
               "lecturers": page_out(found.lecturers, [lecturer_out(lr) for lr in found.lecturers.items]),
               "series": [series_out(s) for s in found.series]})


V = "/api/v1"
_OPS = [
    ("/lecturers", "GET", list_lecturers, Access.browse, "讲师列表", None, LecturerPage, 200),
    ("/lecturers", "POST", save_lecturer, Access.admin, "新建讲师", LecturerIn, LecturerOut, 201),
    ("/lecturers/{id:int}", "GET", get_lecturer, Access.browse, "讲师详情", None, LecturerOut, 200),
    ("/lecturers/{id:int}", "PUT", save_lecturer, Access.lecturer, "修改讲师资料", LecturerIn, LecturerOut, 200),
    ("/lecturers/{id:int}", "DELETE", delete_lecturer, Access.admin, "删除讲师", None, None, 204),
    ("/series", "GET", list_series, Access.browse, "系列列表", None, list[SeriesOut], 200),
    ("/series", "POST", save_series, Access.admin, "新建系列", SeriesIn, SeriesOut, 201),
    ("/series/{id:int}", "GET", get_series, Access.browse, "系列详情及讲座", None, SeriesOut, 200),
    ("/series/{id:int}", "PUT", save_series, Access.admin, "修改系列", SeriesIn, SeriesOut, 200),
    ("/series/{id:int}", "DELETE", delete_series, Access.admin, "删除系列", None, None, 204),
    ("/lectures", "GET", list_lectures, Access.browse, "已发布讲座列表", None, LecturePage, 200),
    ("/lectures", "POST", save_lecture, Access.lecturer, "新建讲座（草稿）", LectureIn, LectureOut, 201),
    ("/lectures/{id:int}", "GET", get_lecture, Access.browse, "讲座详情", None, LectureOut, 200),
    ("/lectures/{id:int}", "PUT", save_lecture, Access.lecturer, "修改讲座", LectureIn, LectureOut, 200),
    ("/lectures/{id:int}", "DELETE", delete_lecture, Access.lecturer,
     "删除讲座及其录像文件（有学习或签到记录时 409，请改为归档；作者只能删除未提交过审核的草稿）", None, None, 204),
    ("/lectures/{id:int}/transitions", "POST", transition, Access.lecturer, "提交审核、发布、退回、归档等",
     TransitionIn, None, 200),
    ("/search", "GET", search_api, Access.browse, "搜索讲座、讲师和系列（支持拼音和首字母）", None, SearchOut, 200),
]

routes = []
for _path, _method, _endpoint, _access, _summary, _req, _resp, _status in _OPS:
    api_operation(V + _path, _method, _summary, request=_req, response=_resp, status=_status, tags=TAGS)
    routes.append(route(V + _path, _endpoint, access=_access, methods=(_method,),
                        name=f"api_{_endpoint.__name__}_{_method.lower()}"))
