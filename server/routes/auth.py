"""Sign in (phone or 工号 + password) and sign out, for pages and for JSON clients."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import client_ip, end_session, load_principal, start_session
from server.db import transaction
from server.errors import AppError, TooManyRequests
from server.openapi import api_operation
from server.permissions import Access
from server.routes.base import json_body, redirect, route
from server.routes.me import MeOut, me_out
from server.services import accounts
from server.templating import render


def safe_next(target: str | None) -> str:
    """Only same-site paths: "//evil" and "/\\evil" would leave the site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 500:
        return "/"
    return target


async def login_page(request: Request) -> Response:
    if await load_principal(request):
        return redirect(safe_next(request.query_params.get("next")))
    return await render(request, "login.html", {"next": safe_next(request.query_params.get("next")), "login": ""})


async def _sign_in(request: Request, response: Response, login: str, password: str) -> accounts.LoginResult:
    runtime = request.app.state.runtime
    async with transaction(runtime.sessions) as db:
        result = await accounts.authenticate(db, runtime.settings, login=login, password=password,
                                             ip=client_ip(request))
        if result.user is not None:
            await start_session(db, request, response, result.user, runtime.settings.session_ttl_days)
    return result


async def login_submit(request: Request) -> Response:
    form = await request.form()
    login, password = str(form.get("login") or "")[:60], str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    response = redirect(target)
    result = await _sign_in(request, response, login, password)
    if result.user is None:
        status = 429 if result.locked else 401
        return await render(request, "login.html", {"next": target, "login": login, "error": result.error},
                            status=status)
    if result.user.must_change_password:
        response.headers["location"] = "/me/password"
    return response


async def logout(request: Request) -> Response:
    response = redirect("/")
    async with transaction(request.app.state.runtime.sessions) as db:
        await end_session(db, request, response)
    return response


class LoginIn(BaseModel):
    login: str = Field(max_length=60, description="手机号或工号")
    password: str = Field(max_length=256)


api_operation("/api/v1/session", "POST", "登录（手机号或工号 + 密码），成功后设置会话 Cookie", request=LoginIn,
              response=MeOut, tags=["账号"])


async def api_login(request: Request) -> Response:
    body = await json_body(request, LoginIn)
    cookies = Response()
    result = await _sign_in(request, cookies, body.login, body.password)
    if result.user is None:
        error = result.error or accounts.BAD_LOGIN
        raise TooManyRequests(error) if result.locked else AppError(error, code="bad_credentials")
    out = JSONResponse(me_out(result.user, None).model_dump(mode="json"))
    out.raw_headers.extend(h for h in cookies.raw_headers if h[0] == b"set-cookie")
    return out


api_operation("/api/v1/session", "DELETE", "退出登录", tags=["账号"])


async def api_logout(request: Request) -> Response:
    response = JSONResponse({"ok": True})
    async with transaction(request.app.state.runtime.sessions) as db:
        await end_session(db, request, response)
    return response


routes = [
    route("/login", login_page, access=Access.public),
    route("/login", login_submit, access=Access.public, methods=("POST",)),
    route("/logout", logout, access=Access.public, methods=("POST",)),
    route("/api/v1/session", api_login, access=Access.public, methods=("POST",)),
    route("/api/v1/session", api_logout, access=Access.public, methods=("DELETE",)),
]
