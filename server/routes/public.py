"""Public catalogue pages: series, lecture, search; and the image redirect."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import pagecache
from server.auth import Principal, load_principal
from server.errors import NotFound
from server.keys import is_image_key
from server.permissions import Access
from server.routes.base import path_int, route
from server.routes.catalogue_view import absolute, page_of, query, share_qr, view
from server.services import catalogue, search, study_state
from server.services.images import image_url
from server.templating import render

LECTURE_SLOTS = {"watch": "lecture/_watch.html", "checkin": "lecture/_checkin.html"}
# A presigned URL is reused for a while so image redirects (and the browser caches they allow) stay stable.
_signed: dict[str, tuple[float, str]] = {}


async def series_page(request: Request) -> Response:
    series_id = path_int(request, "id")
    number = page_of(request)

    async def produce() -> dict[str, Any]:
        async with request.app.state.runtime.sessions() as db:
            series = await catalogue.get_series(db, series_id)
            lectures = await catalogue.published_page(db, page=number, series_id=series_id)
            billed = await catalogue.lecturers_of(db, [lec.id for lec in lectures.items])
        return view(request, series=series, lectures=lectures, billed=billed)

    return await pagecache.page(request, key=f"series:{series_id}:{number}", template="series.html", produce=produce,
                                ttl_s=pagecache.CATALOGUE_TTL_S)


def _lecture_context(request: Request, data: catalogue.LectureView, **extra: Any) -> dict[str, Any]:
    lecture_id = data.lecture.id
    share = absolute(request, f"/lectures/{lecture_id}")
    og_image = image_url(data.lecture.cover_key, 640)
    return view(request, lecture=data.lecture, lecturers=data.lecturers, series=data.series, media=data.media,
                progress=data.progress, checkin=data.checkin, can_edit=data.can_edit, share_url=share,
                og_image=absolute(request, og_image) if og_image else None, **extra)


async def lecture_page(request: Request) -> Response:
    lecture_id = path_int(request, "id")
    principal = await load_principal(request)
    viewer = pagecache.viewer_class(principal)
    runtime = request.app.state.runtime
    if viewer is not None:
        async def produce() -> dict[str, Any]:
            # As anyone may see it (published only); the viewer's own progress and check-in are holes.
            async with runtime.sessions() as db:
                data = await catalogue.lecture_view(db, lecture_id, None)
            return _lecture_context(request, data, slots={s: pagecache.slot(s) for s in LECTURE_SLOTS})

        shared = await pagecache.shared(request, key=f"lecture:{lecture_id}", viewer=viewer,
                                        template="lecture.html", produce=produce, personal=tuple(LECTURE_SLOTS),
                                        ttl_s=pagecache.CATALOGUE_TTL_S)
        if shared is not None:
            return pagecache.respond(request, shared, principal, await _lecture_fills(request, shared, principal))
    async with runtime.sessions() as db:
        data = await catalogue.lecture_view(db, lecture_id, principal.actor if principal else None)
    return await render(request, "lecture.html", _lecture_context(request, data))


async def _lecture_fills(request: Request, shared: pagecache.SharedPage,
                         principal: Principal | None) -> Mapping[str, bytes]:
    lecture_id = shared.data["lecture"].id
    progress = checkin = None
    if principal is not None:
        mine = await study_state.of(request.app.state.runtime, principal.actor.user_id)
        progress, checkin = mine.progress.get(lecture_id), mine.checkins.get(lecture_id)

    def render_slots() -> dict[str, str]:  # only when no viewer in this state has been served yet
        env: Environment = request.app.state.templates
        personal = {"user": principal.user if principal else None, "actor": principal.actor if principal else None,
                    "progress": progress, "checkin": checkin, "request": request,
                    "settings": request.app.state.runtime.settings}
        return {name: env.get_template(LECTURE_SLOTS[name]).render({**shared.data, **personal})
                for name in LECTURE_SLOTS if name in shared.slots}

    return pagecache.fragments(shared, (principal is not None, progress, checkin), render_slots)


async def search_page(request: Request) -> Response:
    params = query(request)
    q = params.get("q", "")
    kind = params.get("type", "all")
    number = page_of(request)

    async def produce() -> dict[str, Any]:
        async with request.app.state.runtime.sessions() as db:
            results = await search.search(db, q=q, kind=kind, page=number)
            billed = await catalogue.lecturers_of(db, [lec.id for lec in results.lectures.items])
        return view(request, results=results, q=q[:40], billed=billed)

    return await pagecache.page(request, key=f"search:{kind}:{number}:{q}", template="search.html", produce=produce,
                                ttl_s=pagecache.CATALOGUE_TTL_S)


def _presigned(request: Request, key: str) -> tuple[str, int]:
    settings = request.app.state.runtime.settings
    now = time.monotonic()
    hit = _signed.get(key)
    if hit is None or hit[0] - now < settings.presign_ttl_s / 2:
        if len(_signed) > 10_000:
            _signed.clear()
        hit = (now + settings.presign_ttl_s,
               request.app.state.runtime.storage.presign_get(key, settings.presign_ttl_s))
        _signed[key] = hit
    return hit[1], int(hit[0] - now - settings.presign_ttl_s / 4)


async def lecture_qr(request: Request) -> Response:
    """The lecture's share link as a QR code image (the same for everyone; it encodes only the link)."""
    svg = share_qr(absolute(request, f"/lectures/{path_int(request, 'id')}"))
    # Without a configured public URL the link comes from the Host header: no shared cache may keep that.
    scope = "public" if request.app.state.runtime.settings.public_url else "private"
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": f"{scope}, max-age=86400"})


async def image(request: Request) -> Response:
    """302 to the stored object; keys are random, server-made and shape-checked, so no object outside images/."""
    key = "images/" + request.path_params["name"]
    if not is_image_key(key):
        raise NotFound("图片不存在")
    settings = request.app.state.runtime.settings
    if settings.media_public_base_url:
        target, max_age = settings.media_public_base_url.rstrip("/") + "/" + key, 86400
    else:
        target, max_age = _presigned(request, key)
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": f"public, max-age={max(60, max_age)}"})


routes = [
    route("/series/{id}", series_page, access=Access.browse),
    route("/lectures/{id}", lecture_page, access=Access.browse),
    route("/lectures/{id}/qr.svg", lecture_qr, access=Access.browse),
    route("/search", search_page, access=Access.browse),
    # Public so share previews (WeChat fetches og:image without a session) can show the cover.
    route("/images/{name}", image, access=Access.public),
]
