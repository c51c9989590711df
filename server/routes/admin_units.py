"""Admin page for the member-unit tree: create, rename, move and delete units."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from server.auth import client_ip
from server.db import transaction
from server.errors import AppError
from server.ids import is_digits
from server.permissions import Access
from server.routes.base import actor_of, path_int, redirect, route
from server.services import units
from server.templating import render


async def _page(request: Request, *, errors: dict[str, str] | None = None, message: str | None = None,
                status: int = 200) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        tree = await units.tree(db, actor)
    return await render(request, "admin/units.html", {
        "units": tree, "errors": errors or {}, "message": message,
        "flash": request.query_params.get("flash")}, status=status)


async def units_page(request: Request) -> Response:
    return await _page(request)


def _parent(raw: Any) -> int | None:
    value = str(raw or "")
    return int(value) if is_digits(value) and len(value) < 12 else None


async def _act(request: Request, action: Any, done: str) -> Response:
    try:
        async with transaction(request.app.state.runtime.sessions) as db:
            await action(db)
    except AppError as exc:
        if exc.status == 404:
            raise
        return await _page(request, errors=exc.fields, message=exc.message, status=exc.status)
    return redirect("/admin/units?flash=" + quote(done))


async def unit_create(request: Request) -> Response:
    actor = await actor_of(request)
    form = await request.form()
    return await _act(request, lambda db: units.create(db, actor, name=str(form.get("name") or ""),
                                                       parent_id=_parent(form.get("parent_id")),
                                                       ip=client_ip(request)), "已创建单位")


async def unit_rename(request: Request) -> Response:
    actor = await actor_of(request)
    form = await request.form()
    unit_id = path_int(request, "id")
    return await _act(request, lambda db: units.rename(db, actor, unit_id, name=str(form.get("name") or ""),
                                                       ip=client_ip(request)), "已重命名")


async def unit_move(request: Request) -> Response:
    actor = await actor_of(request)
    form = await request.form()
    unit_id, parent_id = path_int(request, "id"), _parent(form.get("parent_id"))
    if parent_id is None:
        return await _page(request, message="请选择新的上级单位", status=422)
    return await _act(request, lambda db: units.move(db, actor, unit_id, parent_id=parent_id,
                                                     ip=client_ip(request)), "已移动")


async def unit_delete(request: Request) -> Response:
    actor = await actor_of(request)
    unit_id = path_int(request, "id")
    return await _act(request, lambda db: units.delete(db, actor, unit_id, ip=client_ip(request)), "已删除单位")


routes = [
    route("/admin/units", units_page, access=Access.unit_admin),
    route("/admin/units", unit_create, access=Access.unit_admin, methods=("POST",)),
    route("/admin/units/{id:int}/rename", unit_rename, access=Access.unit_admin, methods=("POST",)),
    route("/admin/units/{id:int}/move", unit_move, access=Access.unit_admin, methods=("POST",)),
    route("/admin/units/{id:int}/delete", unit_delete, access=Access.unit_admin, methods=("POST",)),
]
