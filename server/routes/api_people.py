"""JSON API for people and member units (scoped like the admin pages)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import client_ip
from server.db import transaction
from server.ids import parse_id
from server.models.people import User
from server.openapi import api_operation
from server.pagination import page_number
from server.permissions import Access
from server.routes.base import actor_of, json_body, path_int, route
from server.services import accounts, people, units


class PersonOut(BaseModel):
    id: int
    name: str
    phone: str | None
    employee_no: str | None
    unit_id: int | None
    roles: list[str]
    is_active: bool
    has_password: bool


class PersonIn(BaseModel):
    name: str = Field(max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    employee_no: str | None = Field(default=None, max_length=40)
    unit_id: int
    roles: list[str] = Field(default_factory=lambda: ["worker"], max_length=4)


class PeopleQuery(BaseModel):
    q: str | None = Field(default=None, description="按姓名、手机号或工号搜索")
    unit: int | None = Field(default=None, description="只看该单位及其下级单位")
    page: int = 1


class PeoplePage(BaseModel):
    items: list[PersonOut]
    page: int
    per_page: int
    total: int


class ActiveIn(BaseModel):
    active: bool


class PasswordOut(BaseModel):
    one_time_password: str = Field(description="只显示这一次；对方首次登录后须修改")


class UnitOut(BaseModel):
    id: int
    name: str
    parent_id: int | None
    path: str
    full_name: str
    depth: int
    people: int


class UnitIn(BaseModel):
    name: str = Field(max_length=100)
    parent_id: int | None = None


class UnitPatch(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    parent_id: int | None = Field(default=None, description="移动到新的上级单位")


def person_out(user: User) -> dict[str, object]:
    return PersonOut(id=user.id or 0, name=user.name, phone=user.phone, employee_no=user.employee_no,
                     unit_id=user.unit_id, roles=list(user.roles), is_active=user.is_active,
                     has_password=user.password_hash is not None).model_dump()


api_operation("/api/v1/people", "GET", "人员列表（搜索、按单位筛选、分页）", query=PeopleQuery, response=PeoplePage,
              tags=["人员"])


async def list_people(request: Request) -> Response:
    actor = await actor_of(request)
    raw_unit = request.query_params.get("unit", "")
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        rows, total = await people.list_people(db, actor, q=request.query_params.get("q", ""), page=page,
                                               unit_id=parse_id(raw_unit))
    return JSONResponse({"items": [person_out(p) for p, _ in rows], "page": page, "per_page": people.PER_PAGE,
                         "total": total})


api_operation("/api/v1/people", "POST", "新建人员（无密码，需签发一次性密码）", request=PersonIn, response=PersonOut,
              status=201, tags=["人员"])


async def create_person(request: Request) -> Response:
    actor = await actor_of(request)
    body = await json_body(request, PersonIn)
    async with transaction(request.app.state.runtime.sessions) as db:
        person = await people.create_person(db, actor, people.clean_input(actor, body.model_dump()),
                                            ip=client_ip(request))
    return JSONResponse(person_out(person), status_code=201)


api_operation("/api/v1/people/{id:int}", "GET", "人员详情", response=PersonOut, tags=["人员"])


async def get_person(request: Request) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        person = await people.get_managed_person(db, actor, path_int(request, "id"))
    return JSONResponse(person_out(person))


api_operation("/api/v1/people/{id:int}", "PUT", "修改人员", request=PersonIn, response=PersonOut, tags=["人员"])


async def update_person(request: Request) -> Response:
    actor = await actor_of(request)
    body = await json_body(request, PersonIn)
    async with transaction(request.app.state.runtime.sessions) as db:
        person = await people.update_person(db, actor, path_int(request, "id"),
                                            people.clean_input(actor, body.model_dump()), ip=client_ip(request))
    return JSONResponse(person_out(person))


api_operation("/api/v1/people/{id:int}/active", "PUT", "启用或停用人员", request=ActiveIn, response=PersonOut,
              tags=["人员"])


async def set_active(request: Request) -> Response:
    actor = await actor_of(request)
    body = await json_body(request, ActiveIn)
    async with transaction(request.app.state.runtime.sessions) as db:
        person = await people.set_active(db, actor, path_int(request, "id"), active=body.active,
                                         ip=client_ip(request))
    return JSONResponse(person_out(person))


api_operation("/api/v1/people/{id:int}/password-reset", "POST", "重置密码，返回一次性密码", response=PasswordOut,
              tags=["人员"])


async def reset_password(request: Request) -> Response:
    actor = await actor_of(request)
    async with transaction(request.app.state.runtime.sessions) as db:
        _, password = await accounts.reset_password(db, actor, path_int(request, "id"), ip=client_ip(request))
    return JSONResponse({"one_time_password": password}, headers={"cache-control": "no-store"})


api_operation("/api/v1/units", "GET", "可管理的单位（树，按层级顺序）", response=list[UnitOut], tags=["单位"])


async def list_units(request: Request) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        tree = await units.tree(db, actor)
    return JSONResponse([UnitOut(id=u.id, name=u.name, parent_id=u.parent_id, path=u.path, full_name=u.full_name,
                                 depth=u.depth, people=u.people).model_dump() for u in tree])


def unit_out(unit: object) -> dict[str, object]:
    return {k: getattr(unit, k) for k in ("id", "name", "parent_id", "path")}


api_operation("/api/v1/units", "POST", "新建单位", request=UnitIn, status=201, tags=["单位"])


async def create_unit(request: Request) -> Response:
    actor = await actor_of(request)
    body = await json_body(request, UnitIn)
    async with transaction(request.app.state.runtime.sessions) as db:
        unit = await units.create(db, actor, name=body.name, parent_id=body.parent_id, ip=client_ip(request))
    return JSONResponse(unit_out(unit), status_code=201)


api_operation("/api/v1/units/{id:int}", "PATCH", "重命名或移动单位", request=UnitPatch, tags=["单位"])


async def patch_unit(request: Request) -> Response:
    actor = await actor_of(request)
    body = await json_body(request, UnitPatch)
    unit_id = path_int(request, "id")
    async with transaction(request.app.state.runtime.sessions) as db:
        unit = await units.get_managed(db, actor, unit_id)
        if body.name is not None:
            unit = await units.rename(db, actor, unit_id, name=body.name, ip=client_ip(request))
        if body.parent_id is not None and body.parent_id != unit.parent_id:
            unit = await units.move(db, actor, unit_id, parent_id=body.parent_id, ip=client_ip(request))
    return JSONResponse(unit_out(unit))


api_operation("/api/v1/units/{id:int}", "DELETE", "删除单位（须无下级单位和人员）", status=204, tags=["单位"])


async def delete_unit(request: Request) -> Response:
    actor = await actor_of(request)
    async with transaction(request.app.state.runtime.sessions) as db:
        await units.delete(db, actor, path_int(request, "id"), ip=client_ip(request))
    return Response(status_code=204)


routes = [
    route("/api/v1/people", list_people, access=Access.unit_admin),
    route("/api/v1/people", create_person, access=Access.unit_admin, methods=("POST",)),
    route("/api/v1/people/{id:int}", get_person, access=Access.unit_admin),
    route("/api/v1/people/{id:int}", update_person, access=Access.unit_admin, methods=("PUT",)),
    route("/api/v1/people/{id:int}/active", set_active, access=Access.unit_admin, methods=("PUT",)),
    route("/api/v1/people/{id:int}/password-reset", reset_password, access=Access.unit_admin, methods=("POST",)),
    route("/api/v1/units", list_units, access=Access.unit_admin),
    route("/api/v1/units", create_unit, access=Access.unit_admin, methods=("POST",)),
    route("/api/v1/units/{id:int}", patch_unit, access=Access.unit_admin, methods=("PATCH",)),
    route("/api/v1/units/{id:int}", delete_unit, access=Access.unit_admin, methods=("DELETE",)),
]
