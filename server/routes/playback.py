"""Private-bucket playback: the app serves the tiny HLS playlists with presigned segment URLs, and the
standalone upload page of a lecture."""

from __future__ import annotations

import re

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from server.auth import load_principal
from server.errors import NotFound
from server.models.media import Media
from server.permissions import Access
from server.routes.base import actor_of, path_int, route
from server.services import media as media_service
from server.services.uploads import editable_lecture
from server.templating import render

HLS_TYPE = "application/vnd.apple.mpegurl"
_RENDITION = re.compile(r"^[a-z0-9]{1,16}$")


async def _media(request: Request) -> Media:
    principal = await load_principal(request)
    async with request.app.state.runtime.sessions() as db:
        return await media_service.viewable_media(db, principal.actor if principal else None,
                                                  request.path_params["media_id"])


def _playlist_response(text: str, finished: bool) -> Response:
    # A growing (EVENT) playlist must be refetched by the player; finished ones only carry signed URLs
    # that outlive this short private cache.
    cache = "private, max-age=300" if finished else "no-store"
    return Response(text, media_type=HLS_TYPE, headers={"Cache-Control": cache})


async def master_playlist(request: Request) -> Response:
    media = await _media(request)
    text, finished = await media_service.playlist_text(request.app.state.runtime, media, None)
    return _playlist_response(text, finished)


async def rendition_playlist(request: Request) -> Response:
    rendition = request.path_params["rendition"]
    if not _RENDITION.match(rendition):
        raise NotFound("视频清晰度不存在")
    media = await _media(request)
    text, finished = await media_service.playlist_text(request.app.state.runtime, media, rendition)
    return _playlist_response(text, finished)


async def thumbs(request: Request) -> Response:
    media = await _media(request)
    text = await media_service.thumbs_vtt(request.app.state.runtime, media)
    return Response(text, media_type="text/vtt", headers={"Cache-Control": "private, max-age=300"})


async def upload_page(request: Request) -> Response:
    runtime = request.app.state.runtime
    actor = await actor_of(request)
    async with runtime.sessions() as db:
        lecture = await editable_lecture(db, actor, path_int(request, "id"))
        media = (await db.exec(select(Media).where(Media.lecture_id == lecture.id)
                               .order_by(col(Media.created_at).desc()).limit(1))).first()
    return await render(request, "admin/lecture_upload.html", {"lecture": lecture, "media": media})


routes = [
    route("/media/{media_id}/master.m3u8", master_playlist, access=Access.browse),
    route("/media/{media_id}/thumbs.vtt", thumbs, access=Access.browse),
    route("/media/{media_id}/{rendition}/index.m3u8", rendition_playlist, access=Access.browse),
    route("/admin/lectures/{id:int}/upload", upload_page, access=Access.lecturer),
]
