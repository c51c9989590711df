from __future__ import annotations

from pathlib import Path

import m3u8
import psycopg
from sqlmodel import select

from server.db import libpq_url, transaction
from server.jobs import PING_TASK, TRANSCODE_TASK, defer
from server.models.catalogue import Lecture
from server.models.media import Media, MediaState
from server.models.system import WorkerPing
from server.runtime import Runtime
from server.services.uploads import queue_transcode
from server.settings import Settings
from tests.server.media_support import make_lecture, make_video, stored_media
from worker.main import run_worker
from worker.recovery import retry_stalled_jobs


async def _media(runtime: Runtime, media_id: str) -> Media:
    async with runtime.sessions() as db:
        media = await db.get(Media, media_id)
    assert media is not None
    return media


async def test_worker_transcodes_an_upload_to_a_ready_ladder(settings: Settings, runtime: Runtime,
                                                              tmp_path: Path) -> None:
    lecture = await make_lecture(runtime, None)
    media = await stored_media(runtime, lecture, make_video(settings.ffmpeg_binary, tmp_path / "talk.mp4"))
    await queue_transcode(runtime, media.id)
    await run_worker(settings, wait=False)

    done = await _media(runtime, media.id)
    assert done.state == MediaState.ready, done.error
    assert done.attempt == 1 and done.playable and done.percent == 100.0
    assert done.published_prefix == f"media/{media.id}/1/"
    assert abs((done.duration_s or 0) - 3.0) < 0.3 and (done.width, done.height) == (640, 360)
    master = m3u8.loads(runtime.storage.get_bytes(done.published_prefix + "master.m3u8").decode())
    assert master.is_variant and [p.uri for p in master.playlists] == [r["playlist"] for r in done.renditions]
    stored = set(runtime.storage.list_keys(done.published_prefix))
    for variant in master.playlists:
        rung = m3u8.loads(runtime.storage.get_bytes(done.published_prefix + variant.uri).decode())
        assert rung.is_endlist and rung.segments
        folder = done.published_prefix + variant.uri.rsplit("/", 1)[0] + "/"
        assert {folder + s.uri for s in rung.segments} | {folder + "init.mp4"} <= stored
    assert done.poster_key in stored and done.thumbs_key in stored
    async with runtime.sessions() as db:
        assert (await db.get(Lecture, lecture.id)).current_media_id == media.id
    assert not any(settings.worker_dir.iterdir())  # the private working dir is gone


async def test_hostile_upload_fails_in_chinese_and_the_worker_survives(settings: Settings, runtime: Runtime,
                                                                       tmp_path: Path) -> None:
    lecture = await make_lecture(runtime, None)
    fake = tmp_path / "lecture.mp4"
    fake.write_text("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
    media = await stored_media(runtime, lecture, fake)
    await queue_transcode(runtime, media.id)
    await defer(runtime.jobs, PING_TASK, requested_by="after-hostile")
    await run_worker(settings, wait=False)

    failed = await _media(runtime, media.id)
    assert failed.state == MediaState.failed and failed.attempt == 1  # final: not retried
    assert failed.error and any("\u4e00" <= c <= "\u9fff" for c in failed.error)
    assert "Traceback" not in failed.error and not list(runtime.storage.list_keys(f"media/{media.id}/"))
    jobs = list(await runtime.jobs.job_manager.list_jobs_async(task=TRANSCODE_TASK))
    assert [j.status for j in jobs] == ["succeeded"]  # a rejection is final, no retry is scheduled
    async with runtime.sessions() as db:
        assert [p.requested_by for p in (await db.exec(select(WorkerPing))).all()] == ["after-hostile"]


async def test_stalled_job_is_retried_and_only_the_new_attempt_publishes(settings: Settings, runtime: Runtime,
                                                                        tmp_path: Path) -> None:
    lecture = await make_lecture(runtime, None)
    media = await stored_media(runtime, lecture, make_video(settings.ffmpeg_binary, tmp_path / "t.mp4", seconds=2))
    # A worker took the job, started attempt 1 (some objects written), then died without a trace.
    async with transaction(runtime.sessions) as db:
        row = await db.get(Media, media.id)
        assert row is not None
        row.attempt, row.state = 1, MediaState.transcoding
        db.add(row)
    runtime.storage.put_bytes(f"media/{media.id}/1/360p/seg_00000.m4s", b"partial")
    manager = runtime.jobs.job_manager
    await queue_transcode(runtime, media.id)
    dead_worker = await manager.register_worker()
    job = await manager.fetch_job(queues=None, worker_id=dead_worker)
    assert job is not None and job.task_name == TRANSCODE_TASK
    assert await retry_stalled_jobs(manager) == 0  # its worker is still beating
    with psycopg.connect(libpq_url(settings.database_url or ""), autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '5 minutes' "
                     "WHERE id = %s", (dead_worker,))
    assert await retry_stalled_jobs(manager) == 1

    await run_worker(settings, wait=False)
    done = await _media(runtime, media.id)
    assert done.state == MediaState.ready and done.attempt == 2
    keys = list(runtime.storage.list_keys(f"media/{media.id}/"))
    assert keys and all(k.startswith(f"media/{media.id}/2/") for k in keys)
