"""The signed-in person's own profile and password, as pages and as JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import cookie_name
from server.db import transaction
from server.errors import AppError, Conflict, Invalid
from server.models.people import Unit, User
from server.openapi import api_operation
from server.permissions import Access
from server.routes.base import json_body, principal_of, redirect, route
from server.security import token_digest
from server.services import accounts
from server.services.people import PHONE_RE, role_labels
from server.templating import render


class MeOut(BaseModel):
    id: int
    name: str
    phone: str | None
    employee_no: str | None
    unit_id: int | None
    unit_name: str | None
    roles: list[str]
    must_change_password: bool


class ProfileIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    phone: str | None = Field(default=None, max_length=20)


class PasswordIn(BaseModel):
    current: str = Field(max_length=256)
    new_password: str = Field(max_length=256)
    confirm: str = Field(max_length=256)


def me_out(user: User, unit_name: str | None) -> MeOut:
    return MeOut(id=user.id or 0, name=user.name, phone=user.phone, employee_no=user.employee_no,
                 unit_id=user.unit_id, unit_name=unit_name, roles=list(user.roles),
                 must_change_password=user.must_change_password)


async def _save_profile(request: Request, user_id: int, name: str, phone: str | None) -> None:
    name = " ".join(name.split())
    fields: dict[str, str] = {}
    if not name or len(name) > 50:
        fields["name"] = "请填写姓名（不超过 50 字）"
    if phone and not PHONE_RE.match(phone):
        fields["phone"] = "手机号应为 11 位数字"
    if fields:
        raise Invalid("请检查填写的内容", fields=fields)
    async with transaction(request.app.state.runtime.sessions) as db:
        user = await db.get(User, user_id)
        assert user is not None
        if not phone and not user.employee_no:
            raise Invalid("没有工号的账号必须保留手机号", fields={"phone": "没有工号的账号必须保留手机号"})
        taken = phone and phone != user.phone and \
            (await db.exec(select(User.id).where(User.phone == phone))).first() is not None
        if taken:
            raise Conflict("该手机号已被其他账号使用", fields={"phone": "该手机号已被其他账号使用"})
        user.name, user.phone = name, phone or None
        db.add(user)


async def _unit_name(request: Request, unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    async with request.app.state.runtime.sessions() as db:
        unit = await db.get(Unit, unit_id)
    return unit.name if unit else None


async def profile_page(request: Request) -> Response:
    principal = await principal_of(request)
    context: dict[str, Any] = {"person": principal.user, "unit_name": await _unit_name(request, principal.user.unit_id),
                               "role_text": role_labels(principal.user.roles), "errors": {}}
    if request.method == "POST":
        form = await request.form()
        name, phone = str(form.get("name") or ""), str(form.get("phone") or "").strip() or None
        try:
            await _save_profile(request, principal.user.id, name, phone)  # type: ignore[arg-type]
        except AppError as exc:
            context.update(errors=exc.fields, message=exc.message, form={"name": name, "phone": phone or ""})
            return await render(request, "me/profile.html", context, status=exc.status)
        return redirect("/me/profile?saved=1")
    context["flash"] = "已保存" if request.query_params.get("saved") else None
    return await render(request, "me/profile.html", context)


async def _change_password(request: Request, user_id: int, body: PasswordIn) -> None:
    token = request.cookies.get(cookie_name(request))
    async with transaction(request.app.state.runtime.sessions) as db:
        await accounts.change_own_password(db, user_id, current=body.current, new=body.new_password,
                                           confirm=body.confirm, keep_token_hash=token_digest(token) if token else None)


async def password_page(request: Request) -> Response:
    principal = await principal_of(request)
    forced = principal.user.must_change_password
    if request.method == "POST":
        form = await request.form()
        body = PasswordIn(current=str(form.get("current") or "")[:256],
                          new_password=str(form.get("new_password") or "")[:256],
                          confirm=str(form.get("confirm") or "")[:256])
        try:
            await _change_password(request, principal.user.id, body)  # type: ignore[arg-type]
        except AppError as exc:
            return await render(request, "me/password.html", {"forced": forced, "errors": exc.fields,
                                                              "message": exc.message}, status=exc.status)
        return redirect("/" if forced else "/me/profile?saved=1")
    return await render(request, "me/password.html", {"forced": forced, "errors": {}})


api_operation("/api/v1/me", "GET", "当前登录人员的信息", response=MeOut, tags=["账号"])


async def api_me(request: Request) -> Response:
    user = (await principal_of(request)).user
    return JSONResponse(me_out(user, await _unit_name(request, user.unit_id)).model_dump(mode="json"))


api_operation("/api/v1/me", "PATCH", "修改本人姓名和手机号", request=ProfileIn, response=MeOut, tags=["账号"])


async def api_update_me(request: Request) -> Response:
    principal = await principal_of(request)
    body = await json_body(request, ProfileIn)
    await _save_profile(request, principal.user.id, body.name, (body.phone or "").strip() or None)  # type: ignore[arg-type]
    async with request.app.state.runtime.sessions() as db:
        user = await db.get(User, principal.user.id)
    assert user is not None
    return JSONResponse(me_out(user, await _unit_name(request, user.unit_id)).model_dump(mode="json"))


api_operation("/api/v1/me/password", "POST", "修改本人密码（其他设备上的登录会失效）", request=PasswordIn,
              tags=["账号"])


async def api_change_password(request: Request) -> Response:
    principal = await principal_of(request)
    await _change_password(request, principal.user.id, await json_body(request, PasswordIn))  # type: ignore[arg-type]
    return JSONResponse({"ok": True})


routes = [
    route("/me/profile", profile_page, access=Access.signed_in, methods=("GET", "POST")),
    route("/me/password", password_page, access=Access.signed_in, methods=("GET", "POST")),
    route("/api/v1/me", api_me, access=Access.signed_in),
    route("/api/v1/me", api_update_me, access=Access.signed_in, methods=("PATCH",)),
    route("/api/v1/me/password", api_change_password, access=Access.signed_in, methods=("POST",)),
]
