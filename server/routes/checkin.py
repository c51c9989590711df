"""On-site check-in pages: the worker's scan/confirm flow, the projector and its QR API, the admin roster."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.auth import client_ip, load_principal
from server.db import transaction
from server.errors import Conflict
from server.ids import is_digits
from server.models.base import utcnow
from server.openapi import api_operation
from server.pagination import Page, page_number
from server.permissions import Access
from server.routes.base import actor_of, path_int, principal_of, redirect, route, site_base
from server.routes.catalogue_view import qr_svg
from server.rules import checkin_token as tokens
from server.rules.participation import REPORT_TZ
from server.services import checkin as service
from server.templating import render as _render

SCAN_COOKIE = "jt_checkin_scan"
ROSTER_PAGE = 30
FLASH = {"in": "已签到", "undone": "已撤销签到", "walkin": "已登记并签到"}


async def render(request: Request, template: str, context: dict[str, object], *, status: int = 200) -> Response:
    return await _render(request, template, {"tz": REPORT_TZ, **context}, status=status)


def _key(request: Request) -> str:
    return request.app.state.runtime.settings.signing_key()


def checkin_url(request: Request, lecture_id: int, token: str) -> str:
    return f"{site_base(request)}/checkin/{lecture_id}?t={quote(token)}"


async def scan(request: Request) -> Response:
    """Landing page of a scanned code: trade a live token for a pass cookie, then ask to confirm."""
    lecture_id = path_int(request, "lecture_id")
    async with request.app.state.runtime.sessions() as db:
        lecture = await service.offline_lecture(db, lecture_id)
        token = request.query_params.get("t")
        now = time.time()
        if token is not None:
            state = tokens.check_token(_key(request), lecture_id, token, now)
            if state is not tokens.TokenState.ok:
                return await render(request, "checkin/confirm.html", {"lecture": lecture, "state": state.value},
                                    status=410 if state is tokens.TokenState.expired else 400)
            # Drop the token from the address bar, so the page's own link is worthless to forward.
            response = redirect(f"/checkin/{lecture_id}")
            response.set_cookie(SCAN_COOKIE, tokens.make_pass(_key(request), lecture_id, now),
                                max_age=tokens.PASS_TTL_S, path=f"/checkin/{lecture_id}", httponly=True,
                                secure=request.url.scheme == "https", samesite="lax")
            return response
        principal = await load_principal(request)
        if principal is None:
            return redirect(f"/login?next={quote(f'/checkin/{lecture_id}')}")
        existing = await service.find(db, lecture_id=lecture_id, user_id=principal.user.id or 0)
    if existing is not None:
        state = "already"
    elif not tokens.check_pass(_key(request), lecture_id, request.cookies.get(SCAN_COOKIE), now):
        state = "scan"
    else:
        window = service.window_state(lecture, utcnow())
        state = "confirm" if window is tokens.WindowState.open else window.value
    return await render(request, "checkin/confirm.html", {"lecture": lecture, "state": state, "checkin": existing})


async def confirm(request: Request) -> Response:
    lecture_id = path_int(request, "lecture_id")
    principal = await principal_of(request)
    async with transaction(request.app.state.runtime.sessions) as db:
        lecture = await service.offline_lecture(db, lecture_id)
        existing = await service.find(db, lecture_id=lecture_id, user_id=principal.user.id or 0)
        if existing is None and not tokens.check_pass(_key(request), lecture_id, request.cookies.get(SCAN_COOKIE),
                                                      time.time()):
            return await render(request, "checkin/confirm.html", {"lecture": lecture, "state": "scan"}, status=403)
        try:
            outcome = await service.self_check_in(db, lecture=lecture, user=principal.user, now=utcnow())
        except Conflict as exc:
            state = "not_yet" if exc.code == "window_not_yet" else "closed"
            return await render(request, "checkin/confirm.html", {"lecture": lecture, "state": state}, status=409)
    state = "success" if outcome.created else "already"
    response = await render(request, "checkin/confirm.html",
                            {"lecture": lecture, "state": state, "checkin": outcome.checkin})
    response.delete_cookie(SCAN_COOKIE, path=f"/checkin/{lecture_id}")
    return response


async def projector(request: Request) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        lecture = await service.require_runner(db, actor, path_int(request, "lecture_id"))
    return await render(request, "checkin/projector.html", {"lecture": lecture})


async def checkin_qr(request: Request) -> Response:
    actor = await actor_of(request)
    lecture_id = path_int(request, "lecture_id")
    async with request.app.state.runtime.sessions() as db:
        lecture = await service.require_runner(db, actor, lecture_id)
        count = await service.count(db, lecture_id)
    now = time.time()
    url = checkin_url(request, lecture_id, tokens.make_token(_key(request), lecture_id, now))
    body = {"svg": qr_svg(url, scale=10).decode(), "url": url, "count": count, "expires_in_s": tokens.expires_in_s(now),
            "window": service.window_state(lecture, utcnow()).value}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


api_operation("/api/v1/lectures/{lecture_id:int}/checkin-qr", "GET",
              "现场签到二维码（每 15 秒轮换）与已签到人数", tags=["签到"])


async def _roster_page(request: Request, *, errors: dict[str, str] | None = None,
                       form: dict[str, str] | None = None, status: int = 200) -> Response:
    actor = await actor_of(request)
    q = request.query_params.get("q", "")
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        lecture = await service.require_runner(db, actor, path_int(request, "lecture_id"))
        rows, total = await service.roster(db, actor=actor, lecture=lecture, q=q, limit=ROSTER_PAGE,
                                           offset=(page - 1) * ROSTER_PAGE)
        units = await service.units_for_walk_in(db, actor=actor, lecture=lecture)
        checked = await service.count(db, lecture.id or 0)
    return await render(request, "checkin/roster.html", {
        "lecture": lecture, "q": q, "page": Page(rows, page, ROSTER_PAGE, total), "units": units,
        "checked": checked, "errors": errors or {}, "form": form or {},
        "flash": FLASH.get(request.query_params.get("done", "")), "query": urlencode({"q": q}),
    }, status=status)


async def roster_page(request: Request) -> Response:
    return await _roster_page(request)


def _back(lecture_id: int, form_q: str, done: str) -> Response:
    return redirect(f"/admin/lectures/{lecture_id}/checkins?{urlencode({'q': form_q, 'done': done})}")


async def roster_check_in(request: Request) -> Response:
    actor = await actor_of(request)
    lecture_id = path_int(request, "lecture_id")
    form = await request.form()
    user_id = str(form.get("user_id") or "")
    async with transaction(request.app.state.runtime.sessions) as db:
        lecture = await service.require_runner(db, actor, lecture_id)
        await service.roster_check_in(db, actor=actor, lecture=lecture, user_id=int(user_id) if is_digits(user_id)
                                      else 0, now=utcnow(), ip=client_ip(request))
    return _back(lecture_id, str(form.get("q") or ""), "in")


async def roster_undo(request: Request) -> Response:
    actor = await actor_of(request)
    lecture_id = path_int(request, "lecture_id")
    form = await request.form()
    async with transaction(request.app.state.runtime.sessions) as db:
        lecture = await service.require_runner(db, actor, lecture_id)
        await service.undo(db, actor=actor, lecture=lecture, checkin_id=path_int(request, "checkin_id"),
                           ip=client_ip(request))
    return _back(lecture_id, str(form.get("q") or ""), "undone")


async def walk_in(request: Request) -> Response:
    actor = await actor_of(request)
    lecture_id = path_int(request, "lecture_id")
    form = await request.form()
    raw = {k: str(form.get(k) or "") for k in ("name", "phone", "unit_id")}
    values, errors = service.clean_walk_in(raw["name"], raw["phone"], raw["unit_id"])
    if errors:
        return await _roster_page(request, errors=errors, form=raw, status=422)
    try:
        async with transaction(request.app.state.runtime.sessions) as db:
            lecture = await service.require_runner(db, actor, lecture_id)
            await service.walk_in(db, actor=actor, lecture=lecture, now=utcnow(), ip=client_ip(request), **values)
    except Conflict as exc:
        return await _roster_page(request, errors={**exc.fields, "form": exc.message}, form=raw, status=409)
    return _back(lecture_id, "", "walkin")


routes = [
    route("/checkin/{lecture_id}", scan, access=Access.public),
    route("/checkin/{lecture_id}", confirm, access=Access.signed_in, methods=("POST",), name="checkin_confirm"),
    route("/admin/lectures/{lecture_id}/projector", projector, access=Access.unit_admin),
    route("/api/v1/lectures/{lecture_id:int}/checkin-qr", checkin_qr, access=Access.unit_admin),
    route("/admin/lectures/{lecture_id}/checkins", roster_page, access=Access.unit_admin),
    route("/admin/lectures/{lecture_id}/checkins", roster_check_in, access=Access.unit_admin, methods=("POST",),
          name="checkin_roster_post"),
    route("/admin/lectures/{lecture_id}/checkins/{checkin_id}/undo", roster_undo, access=Access.unit_admin,
          methods=("POST",)),
    route("/admin/lectures/{lecture_id}/walk-ins", walk_in, access=Access.unit_admin, methods=("POST",)),
]
