"""Admin pages for people: landing page, list/search, create/edit, (de)activate, passwords, export."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.auth import client_ip
from server.db import transaction
from server.errors import AppError, Forbidden
from server.ids import is_digits
from server.models.people import ROLE_LABELS, Role, Unit
from server.pagination import Page, page_number
from server.permissions import Access, manages_unit
from server.routes.base import actor_of, path_int, redirect, route
from server.services import accounts, member_export, people, units
from server.templating import render

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(filename: str) -> dict[str, str]:
    return {"content-disposition": f"attachment; filename*=UTF-8''{quote(filename)}", "cache-control": "no-store"}


async def admin_index(request: Request) -> Response:
    actor = await actor_of(request)
    if not (actor.is_admin or actor.has(Role.unit_admin) or actor.has(Role.lecturer)):
        raise Forbidden("您没有权限访问管理后台")
    return await render(request, "admin/index.html")


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and is_digits(raw) and len(raw) < 12 else None


async def people_list(request: Request) -> Response:
    actor = await actor_of(request)
    q = request.query_params.get("q", "")
    unit_id = _int_or_none(request.query_params.get("unit"))
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        rows, total = await people.list_people(db, actor, q=q, unit_id=unit_id, page=page)
        tree = await units.tree(db, actor)
    names = {u.id: u.full_name for u in tree}
    items = [(p, names.get(p.unit_id or 0, ""), people.role_labels(p.roles)) for p, _ in rows]
    return await render(request, "admin/people.html", {
        "page": Page(items, page, people.PER_PAGE, total), "q": q, "unit_id": unit_id, "units": tree,
        "flash": request.query_params.get("flash")})


def _form_data(form: Any) -> dict[str, Any]:
    return {"name": form.get("name") or "", "phone": form.get("phone") or "", "employee_no": form.get("employee_no")
            or "", "unit_id": form.get("unit_id") or "", "roles": form.getlist("roles")}


async def _form_page(request: Request, person_id: int | None, data: dict[str, Any], *, errors: dict[str, str],
                     message: str | None = None, status: int = 200, extra: dict[str, Any] | None = None) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        tree = await units.tree(db, actor)
    roles = [(r.value, ROLE_LABELS[r]) for r in Role if actor.is_admin or r is not Role.admin]
    return await render(request, "admin/person_form.html", {
        "person_id": person_id, "data": data, "errors": errors, "message": message, "units": tree,
        "roles": roles, **(extra or {})}, status=status)


async def person_new(request: Request) -> Response:
    actor = await actor_of(request)
    if request.method == "GET":
        return await _form_page(request, None, {"roles": [Role.worker.value], "unit_id": ""}, errors={})
    data = _form_data(await request.form())
    try:
        async with transaction(request.app.state.runtime.sessions) as db:
            person = await people.create_person(db, actor, people.clean_input(actor, data), ip=client_ip(request))
    except AppError as exc:
        return await _form_page(request, None, data, errors=exc.fields, message=exc.message, status=exc.status)
    return redirect(f"/admin/people/{person.id}?flash=" + quote("已创建。请为其签发一次性密码后告知本人。"))


async def person_edit(request: Request) -> Response:
    actor = await actor_of(request)
    person_id = path_int(request, "id")
    if request.method == "GET":
        async with request.app.state.runtime.sessions() as db:
            person = await people.get_managed_person(db, actor, person_id)
        data = {**people.snapshot(person), "phone": person.phone or "", "employee_no": person.employee_no or ""}
        return await _form_page(request, person_id, data, errors={}, extra={
            "person": person, "flash": request.query_params.get("flash")})
    async with request.app.state.runtime.sessions() as db:
        await people.get_managed_person(db, actor, person_id)  # outsiders get 404 before any validation
    data = _form_data(await request.form())
    try:
        async with transaction(request.app.state.runtime.sessions) as db:
            await people.update_person(db, actor, person_id, people.clean_input(actor, data), ip=client_ip(request))
    except AppError as exc:
        if exc.status in (403, 404):
            raise
        return await _form_page(request, person_id, data, errors=exc.fields, message=exc.message, status=exc.status)
    return redirect(f"/admin/people/{person_id}?flash=" + quote("已保存"))


async def person_active(request: Request) -> Response:
    actor = await actor_of(request)
    person_id = path_int(request, "id")
    active = (await request.form()).get("active") == "1"
    async with transaction(request.app.state.runtime.sessions) as db:
        await people.set_active(db, actor, person_id, active=active, ip=client_ip(request))
    return redirect(f"/admin/people/{person_id}?flash=" + quote("已启用" if active else "已停用，该人员已被退出登录"))


async def person_reset_password(request: Request) -> Response:
    actor = await actor_of(request)
    async with transaction(request.app.state.runtime.sessions) as db:
        person, password = await accounts.reset_password(db, actor, path_int(request, "id"), ip=client_ip(request))
    # Shown once, never stored in clear: the page is not cacheable.
    return await render(request, "admin/person_form.html", {
        "person_id": person.id, "person": person, "one_time_password": password, "data": {}, "errors": {},
        "units": [], "roles": []}, headers={"cache-control": "no-store"})


def _password_sheet(rows: list[tuple[Any, str, str]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("一次性密码")
    sheet.append(["姓名", "手机号", "工号", "单位", "一次性密码"])
    for person, unit_name, password in rows:
        sheet.append([member_export.escape_cell(v) for v in (person.name, person.phone, person.employee_no,
                                                             unit_name, password)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def issue_passwords(request: Request) -> Response:
    actor = await actor_of(request)
    unit_id = _int_or_none(str((await request.form()).get("unit_id") or ""))
    async with transaction(request.app.state.runtime.sessions) as db:
        unit = await db.get(Unit, unit_id) if unit_id else None
        path = unit.path if unit else actor.unit_path if not actor.is_admin else None
        if path is not None and not manages_unit(actor, path):
            raise Forbidden("您无权管理该单位")
        rows = await accounts.issue_initial_passwords(db, actor, unit_path=path, ip=client_ip(request))
    if not rows:
        return redirect("/admin/people?flash=" + quote("该范围内没有需要签发密码的人员"))
    return Response(_password_sheet(rows), media_type=XLSX, headers=attachment("一次性密码.xlsx"))


async def export_people(request: Request) -> Response:
    actor = await actor_of(request)
    unit_id = _int_or_none(request.query_params.get("unit"))
    async with request.app.state.runtime.sessions() as db:
        unit = await db.get(Unit, unit_id) if unit_id else None
        handle = await member_export.write_members(db, actor, unit_path=unit.path if unit else None)
    return StreamingResponse(member_export.chunks(handle), media_type=XLSX, headers=attachment("人员名单.xlsx"))


routes = [
    route("/admin", admin_index, access=Access.signed_in),
    route("/admin/people", people_list, access=Access.unit_admin),
    route("/admin/people/new", person_new, access=Access.unit_admin, methods=("GET", "POST")),
    route("/admin/people/export.xlsx", export_people, access=Access.unit_admin),
    route("/admin/people/issue-passwords", issue_passwords, access=Access.unit_admin, methods=("POST",)),
    route("/admin/people/{id:int}", person_edit, access=Access.unit_admin, methods=("GET", "POST")),
    route("/admin/people/{id:int}/active", person_active, access=Access.unit_admin, methods=("POST",)),
    route("/admin/people/{id:int}/reset-password", person_reset_password, access=Access.unit_admin,
          methods=("POST",)),
]
