from __future__ import annotations

from pathlib import Path

import httpx
import m3u8

from server.db import transaction
from server.models.catalogue import Lecture, LectureStatus
from server.models.media import Media
from server.models.people import Role
from server.runtime import Runtime
from server.services.hls import rewrite_uris
from server.services.media import playback_urls
from tests.factories import make_user, sign_in
from tests.server.media_support import make_lecture, make_video, stored_media
from worker.transcode import transcode_media


def test_rewrite_covers_the_fmp4_init_segment() -> None:
    text = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2.0,\nseg_00000.m4s\n#EXT-X-ENDLIST\n'
    out = rewrite_uris(text, lambda uri: f"https://s3/{uri}?sig")
    assert '#EXT-X-MAP:URI="https://s3/init.mp4?sig"' in out and "https://s3/seg_00000.m4s?sig" in out


async def _ready_media(runtime: Runtime, tmp_path: Path, status: LectureStatus) -> Media:
    lecture = await make_lecture(runtime, None, status=status)
    media = await stored_media(runtime, lecture, make_video(runtime.settings.ffmpeg_binary, tmp_path / "v.mp4",
                                                            seconds=2))
    await transcode_media(runtime, media.id)
    async with runtime.sessions() as db:
        ready = await db.get(Media, media.id)
    assert ready is not None
    return ready


async def test_private_playlists_point_at_presigned_segments(client: httpx.AsyncClient, runtime: Runtime,
                                                             tmp_path: Path) -> None:
    media = await _ready_media(runtime, tmp_path, LectureStatus.published)
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    urls = playback_urls(runtime, media)
    assert urls is not None and urls["master"] == f"/media/{media.id}/master.m3u8"
    master = await client.get(urls["master"])
    assert master.status_code == 200 and master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    variants = m3u8.loads(master.text).playlists
    assert variants and all(v.uri.startswith(f"/media/{media.id}/") for v in variants)
    rung = await client.get(variants[0].uri)
    assert rung.status_code == 200
    playlist = m3u8.loads(rung.text)
    init_uri = playlist.segment_map[0].uri
    async with httpx.AsyncClient() as s3:
        init = await s3.get(init_uri)
        first = await s3.get(playlist.segments[0].uri)
    assert init.status_code == 200 and init.content[4:8] == b"ftyp"
    assert first.status_code == 200 and len(first.content) > 100
    assert runtime.storage.get_bytes(media.published_prefix + "360p/seg_00000.m4s") == first.content
    poster = urls["poster"]
    assert poster
    async with httpx.AsyncClient() as s3:
        assert (await s3.get(poster)).content[:2] == b"\xff\xd8"
    vtt = await client.get(f"/media/{media.id}/thumbs.vtt")
    assert vtt.status_code == 200 and "sprite.jpg?" in vtt.text and "#xywh=" in vtt.text
    assert (await client.get(f"/media/{media.id}/..%2F..%2Fx/index.m3u8")).status_code == 404


async def test_unpublished_lecture_media_is_hidden_from_viewers(client: httpx.AsyncClient, make_client,
                                                                runtime: Runtime, tmp_path: Path) -> None:
    media = await _ready_media(runtime, tmp_path, LectureStatus.draft)
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    assert (await client.get(f"/media/{media.id}/master.m3u8")).status_code == 404
    admin = await sign_in(make_client(), runtime, await make_user(runtime, Role.admin))
    assert (await admin.get(f"/media/{media.id}/master.m3u8")).status_code == 200


async def test_public_base_url_points_straight_at_objects(runtime: Runtime, tmp_path: Path) -> None:
    media = await _ready_media(runtime, tmp_path, LectureStatus.published)
    runtime.settings.media_public_base_url = "https://cdn.example.cn/"
    urls = playback_urls(runtime, media)
    assert urls == {"master": f"https://cdn.example.cn/media/{media.id}/1/master.m3u8",
                    "poster": f"https://cdn.example.cn/media/{media.id}/1/poster.jpg",
                    "thumbs": f"https://cdn.example.cn/media/{media.id}/1/sprite.vtt"}
    async with transaction(runtime.sessions) as db:
        lecture = await db.get(Lecture, media.lecture_id)
        assert lecture is not None and lecture.current_media_id == media.id
