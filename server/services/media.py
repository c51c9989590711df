"""Media rows as the rest of the app sees them: status for the uploader, playback URLs, private playlists.

Playback has two modes (settings.media_public_base_url): a public-read prefix behind a CDN, where URLs point
straight at the objects; or a private bucket, where the app serves the small playlists itself with every
segment URI rewritten to a presigned S3 URL. The app never proxies segment bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import anyio
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server import keys
from server.errors import NotFound
from server.models.catalogue import Lecture, LectureLecturer, Lecturer, LectureStatus
from server.models.media import Media, MediaState, Upload, UploadState
from server.permissions import Actor, can_see_unpublished
from server.runtime import Runtime
from server.services.hls import is_finished, rewrite_uris, vtt_rewrite

MASTER = "master.m3u8"
PLAYLIST = "index.m3u8"
_CACHE_MAX = 512


@dataclass(frozen=True)
class MediaStatus:
    state: str
    percent: float
    eta_s: int | None
    message: str
    playable: bool


def status_of(latest: Media | None, current: Media | None) -> MediaStatus:
    """Pure: what the uploader sees — the newest media's progress, playable if anything can be watched."""
    if latest is None:
        return MediaStatus("none", 0.0, None, "", False)
    playable = latest.playable or (current is not None and current.state == MediaState.ready)
    message = (latest.error or "") if latest.state == MediaState.failed else ""
    percent = 100.0 if latest.state == MediaState.ready else round(latest.percent, 1)
    return MediaStatus(latest.state.value, percent, latest.eta_s, message, playable)


async def lecture_media_status(db: AsyncSession, lecture: Lecture) -> MediaStatus:
    latest = (await db.exec(select(Media).where(Media.lecture_id == lecture.id)
                            .order_by(col(Media.created_at).desc()).limit(1))).first()
    current = await db.get(Media, lecture.current_media_id) if lecture.current_media_id else None
    return status_of(latest, current)


def entry_rendition(media: Media) -> str | None:
    """The rung players use before the master exists: the first (lowest) one the engine planned."""
    return media.renditions[0]["name"] if media.renditions else None


def rendition_names(media: Media) -> set[str]:
    return {r["name"] for r in media.renditions}


def playback_urls(runtime: Runtime, media: Media) -> dict[str, str | None] | None:
    """{master, poster, thumbs} for a player, or None while nothing of this media can be played."""
    if not media.published_prefix or not (media.state == MediaState.ready or media.playable):
        return None
    ready = media.state == MediaState.ready
    base = runtime.settings.media_public_base_url
    if base:
        root = f"{base.rstrip('/')}/{media.published_prefix}"
        entry = MASTER if ready else f"{entry_rendition(media)}/{PLAYLIST}"
        return {"master": root + entry,
                "poster": f"{base.rstrip('/')}/{media.poster_key}" if ready and media.poster_key else None,
                "thumbs": f"{base.rstrip('/')}/{media.thumbs_key}" if ready and media.thumbs_key else None}
    ttl = runtime.settings.presign_ttl_s
    return {"master": f"/media/{media.id}/{MASTER}",
            "poster": runtime.storage.presign_get(media.poster_key, ttl) if ready and media.poster_key else None,
            "thumbs": f"/media/{media.id}/thumbs.vtt" if ready and media.thumbs_key else None}


# --- private playlists ------------------------------------------------------------------------------


async def viewable_media(db: AsyncSession, actor: Actor | None, media_id: str) -> Media:
    """The media if this person may watch it: the lecture's current media when the lecture is visible to
    them; editors may also preview media that is not current yet."""
    media = await db.get(Media, media_id) if keys.is_uuid(media_id) else None
    lecture = await db.get(Lecture, media.lecture_id) if media else None
    if media is None or lecture is None:
        raise NotFound("视频不存在")
    lecturer_users = set((await db.exec(
        select(Lecturer.user_id).join(LectureLecturer, col(LectureLecturer.lecturer_id) == Lecturer.id)
        .where(LectureLecturer.lecture_id == lecture.id))).all())
    editor = can_see_unpublished(actor, owner_id=lecture.owner_id,
                                 lecturer_user_ids={u for u in lecturer_users if u})
    if not editor and (lecture.status != LectureStatus.published or lecture.current_media_id != media.id):
        raise NotFound("视频不存在")
    return media


class PlaylistCache:
    """Rewritten finished playlists, kept well inside the presign lifetime so their URLs stay valid."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        hit = self._items.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def put(self, key: str, text: str, ttl_s: float) -> None:
        if len(self._items) >= _CACHE_MAX:
            self._items.clear()
        self._items[key] = (time.monotonic() + ttl_s, text)


_cache = PlaylistCache()


async def playlist_text(runtime: Runtime, media: Media, rendition: str | None) -> tuple[str, bool]:
    """(playlist, finished) for the master (rendition None) or one rung, URIs made fetchable by a player.

    Before the master exists the master URL serves the entry rung, so a player started early keeps going.
    """
    prefix = media.published_prefix
    if not prefix or not (media.state == MediaState.ready or media.playable):
        raise NotFound("视频尚未就绪")
    if rendition is None and media.state != MediaState.ready:
        rendition = entry_rendition(media)
    if rendition is not None and rendition not in rendition_names(media):
        raise NotFound("视频清晰度不存在")
    relpath = MASTER if rendition is None else f"{rendition}/{PLAYLIST}"
    key = keys.media_key(prefix, relpath)
    cached = _cache.get(key)
    if cached is not None:
        return cached, True
    raw = (await anyio.to_thread.run_sync(runtime.storage.get_bytes, key)).decode("utf-8")
    ttl = runtime.settings.presign_ttl_s
    storage = runtime.storage

    def to_url(uri: str) -> str:
        if rendition is None:  # master: sub-playlists are served by us too, so their segments get signed
            return f"/media/{media.id}/{uri}"
        return storage.presign_get(keys.media_key(prefix, f"{rendition}/{uri}"), ttl)

    text = await anyio.to_thread.run_sync(rewrite_uris, raw, to_url)
    finished = is_finished(raw)
    if finished:
        _cache.put(key, text, ttl / 2)
    return text, finished


async def thumbs_vtt(runtime: Runtime, media: Media) -> str:
    if media.state != MediaState.ready or not media.thumbs_key or not media.published_prefix:
        raise NotFound("缩略图不存在")
    raw = (await anyio.to_thread.run_sync(runtime.storage.get_bytes, media.thumbs_key)).decode("utf-8")
    prefix, ttl = media.published_prefix, runtime.settings.presign_ttl_s
    return vtt_rewrite(raw, lambda name: runtime.storage.presign_get(keys.media_key(prefix, name), ttl))


# --- lifecycle --------------------------------------------------------------------------------------


async def delete_lecture_objects(runtime: Runtime, lecture_id: int) -> int:
    """Delete every S3 object of a lecture (sources, all media attempts); call before deleting the row."""
    async with runtime.sessions() as db:
        uploads = (await db.exec(select(Upload).where(Upload.lecture_id == lecture_id))).all()
        media_ids = (await db.exec(select(Media.id).where(Media.lecture_id == lecture_id))).all()
    storage = runtime.storage
    deleted = 0
    for upload in uploads:
        if upload.state == UploadState.active:
            await anyio.to_thread.run_sync(storage.abort_multipart, upload.s3_key, upload.s3_upload_id)
        deleted += await anyio.to_thread.run_sync(storage.delete_prefix, keys.upload_prefix(upload.id))
    for media_id in media_ids:
        deleted += await anyio.to_thread.run_sync(storage.delete_prefix, keys.media_prefix(media_id))
    return deleted


def status_json(status: MediaStatus) -> dict[str, Any]:
    return {"state": status.state, "percent": status.percent, "eta_s": status.eta_s,
            "message": status.message, "playable": status.playable}
