from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from server import keys
from server.models.base import utcnow
from server.models.catalogue import Lecture
from server.models.media import Media, MediaState
from server.runtime import Runtime
from server.services.purge import purge_media
from server.services.uploads import queue_transcode
from server.settings import Settings
from tests.server.media_support import make_lecture, make_video, stored_media
from worker.main import run_worker


async def _transcode(settings: Settings, runtime: Runtime, media: Media) -> None:
    await queue_transcode(runtime, media.id)
    await run_worker(settings, wait=False)


async def test_replaced_recordings_are_superseded_then_purged_after_the_grace(settings: Settings, runtime: Runtime,
                                                                              tmp_path: Path) -> None:
    lecture = await make_lecture(runtime, None)
    video = make_video(settings.ffmpeg_binary, tmp_path / "talk.mp4", seconds=2)
    first, late, newest = [await stored_media(runtime, lecture, video) for _ in range(3)]
    await _transcode(settings, runtime, first)
    await _transcode(settings, runtime, newest)  # replaces first
    await _transcode(settings, runtime, late)  # uploaded before newest, ready after it: never current

    async with runtime.sessions() as db:
        row = await db.get(Lecture, lecture.id)
        assert row is not None and row.current_media_id == newest.id
        media = {m.id: await db.get(Media, m.id) for m in (first, late, newest)}
    assert all(m is not None and m.state == MediaState.ready for m in media.values())
    assert media[first.id].superseded_at is not None and media[late.id].superseded_at is not None
    assert media[newest.id].superseded_at is None

    assert await purge_media(runtime) == 0  # players that loaded the old playlist keep going
    assert list(runtime.storage.list_keys(keys.media_prefix(first.id)))
    later = utcnow() + timedelta(hours=settings.media_purge_grace_hours, minutes=1)
    assert await purge_media(runtime, now=later) == 2
    for gone in (first, late):
        assert not list(runtime.storage.list_keys(keys.media_prefix(gone.id)))
        assert runtime.storage.size_of(gone.source_key) is None
    assert runtime.storage.size_of(newest.source_key) == video.stat().st_size
    assert list(runtime.storage.list_keys(keys.media_prefix(newest.id)))
