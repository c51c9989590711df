from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from server import keys
from server.db import transaction
from server.jobs import PING_TASK, TRANSCODE_TASK, defer, prune_finished_jobs
from server.models.base import utcnow
from server.models.catalogue import Lecture
from server.models.media import Media, MediaState, Upload, UploadState
from server.runtime import Runtime
from server.services.purge import (
    ABANDONED,
    STAGED_IMPORT_MAX_AGE,
    MediaFacts,
    media_due,
    purge_media,
    purge_staged_imports,
    stale_imports,
)
from tests.server.media_support import make_lecture

NOW = utcnow()
GRACE = timedelta(hours=6)


def _facts(state: MediaState = MediaState.ready, *, current: bool = False, superseded_h: float | None = None,
           updated_h: float = 0, job_ended: bool = False, upload: bool = True) -> MediaFacts:
    superseded_at = None if superseded_h is None else NOW - timedelta(hours=superseded_h)
    return MediaFacts(id=str(uuid.uuid4()), upload_id=str(uuid.uuid4()) if upload else None, state=state,
                      current=current, superseded_at=superseded_at, updated_at=NOW - timedelta(hours=updated_h),
                      job_ended=job_ended)


def _due(*media: MediaFacts) -> list[str]:
    return [p.media_id for p in media_due(media, now=NOW, grace=GRACE)]


def test_superseded_media_go_after_the_grace_period() -> None:
    recent, old = _facts(superseded_h=5.9, updated_h=30), _facts(superseded_h=6, updated_h=30)
    assert _due(recent, old, _facts(updated_h=30)) == [old.id]


def test_failed_and_abandoned_media_go_after_the_grace_period_but_running_ones_stay() -> None:
    failed = _facts(MediaState.failed, updated_h=7)
    abandoned = _facts(MediaState.transcoding, updated_h=7, job_ended=True)
    fresh_failure = _facts(MediaState.failed, updated_h=1)
    running = _facts(MediaState.transcoding, updated_h=7)  # its job still queued or running (a slow retry)
    # Superseded while still transcoding (it was playable and current): wait until it ends.
    superseded_running = _facts(MediaState.transcoding, superseded_h=9, updated_h=0.1)
    assert _due(failed, abandoned, fresh_failure, running, superseded_running) == [failed.id, abandoned.id]
    assert [p.abandoned for p in media_due([failed, abandoned], now=NOW, grace=GRACE)] == [False, True]


def test_the_current_media_is_never_purged() -> None:
    current = _facts(MediaState.transcoding, current=True, superseded_h=20, updated_h=20, job_ended=True)
    assert _due(current, _facts(MediaState.failed, current=True, updated_h=20)) == []


def test_a_purge_names_the_source_upload_and_every_attempt() -> None:
    with_upload, without = _facts(MediaState.failed, updated_h=7), _facts(MediaState.failed, updated_h=7, upload=False)
    first, second = media_due([with_upload, without], now=NOW, grace=GRACE)
    assert first.prefixes == [f"uploads/{with_upload.upload_id}/", f"media/{with_upload.id}/"]
    assert second.prefixes == [f"media/{without.id}/"]


def test_stale_imports_are_older_than_a_day() -> None:
    objects = [("imports/1/a", NOW - STAGED_IMPORT_MAX_AGE), ("imports/1/b", NOW - STAGED_IMPORT_MAX_AGE / 2)]
    assert stale_imports(objects, now=NOW) == ["imports/1/a"]


# --- through PostgreSQL and S3 --------------------------------------------------------------------


async def _media(runtime: Runtime, lecture: Lecture, state: MediaState, *, superseded_h: float | None = None,
                 updated_h: float = 0) -> Media:
    """A media row with its source and one attempt's objects in S3, as the transcoder leaves them."""
    async with transaction(runtime.sessions) as db:
        upload = Upload(lecture_id=lecture.id, s3_key="", s3_upload_id="-", filename="talk.mp4", size=4,
                        part_size=4, state=UploadState.completed)
        upload.s3_key = keys.upload_source_key(upload.id)
        db.add(upload)
        await db.flush()
        media = Media(lecture_id=lecture.id, upload_id=upload.id, source_key=upload.s3_key, state=state,
                      attempt=1, updated_at=utcnow() - timedelta(hours=updated_h),
                      superseded_at=None if superseded_h is None else utcnow() - timedelta(hours=superseded_h))
        prefix = keys.attempt_prefix(media.id, 1)
        if state != MediaState.failed:  # a failed media keeps only its source
            media.published_prefix, media.playable = prefix, True
            media.poster_key = keys.media_key(prefix, "poster.jpg")
        db.add(media)
    runtime.storage.put_bytes(upload.s3_key, b"data")
    if state != MediaState.failed:
        for name in ("master.m3u8", "360p/index.m3u8", "360p/seg_00000.m4s", "poster.jpg", "sprite.jpg"):
            runtime.storage.put_bytes(keys.media_key(prefix, name), b"x")
    return media


def _stored(runtime: Runtime, media: Media) -> list[str]:
    return [k for p in keys.media_owned_prefixes(media.id, media.upload_id) for k in runtime.storage.list_keys(p)]


async def test_purge_deletes_the_objects_of_media_due_and_keeps_the_rows(runtime: Runtime) -> None:
    lecture = await make_lecture(runtime, None)
    current = await _media(runtime, lecture, MediaState.ready, updated_h=30)
    replaced = await _media(runtime, lecture, MediaState.ready, superseded_h=7, updated_h=30)
    just_replaced = await _media(runtime, lecture, MediaState.ready, superseded_h=1, updated_h=30)
    failed = await _media(runtime, lecture, MediaState.failed, updated_h=7)
    cancelled = await _media(runtime, lecture, MediaState.transcoding, updated_h=7)
    queued = await _media(runtime, lecture, MediaState.queued, updated_h=7)
    job_id = await defer(runtime.jobs, TRANSCODE_TASK, media_id=cancelled.id)
    assert await runtime.jobs.job_manager.cancel_job_by_id_async(job_id)
    await defer(runtime.jobs, TRANSCODE_TASK, media_id=queued.id)  # waiting for a worker: not garbage
    async with transaction(runtime.sessions) as db:
        row = await db.get(Lecture, lecture.id)
        assert row is not None
        row.current_media_id = current.id
        db.add(row)

    assert await purge_media(runtime) == 3
    assert await purge_media(runtime) == 0  # nothing left to do: purged rows are not looked at again
    for gone in (replaced, failed, cancelled):
        assert _stored(runtime, gone) == [], gone.state
    for kept in (current, just_replaced, queued):
        assert len(_stored(runtime, kept)) == 6
    async with runtime.sessions() as db:
        rows = {m.id: m for m in [await db.get(Media, m.id) for m in (replaced, cancelled, current, just_replaced)]
                if m is not None}
    assert len(rows) == 4  # purged rows stay
    assert rows[replaced.id].purged_at is not None and rows[replaced.id].state == MediaState.ready
    assert rows[replaced.id].published_prefix is None and rows[replaced.id].poster_key is None
    assert rows[cancelled.id].state == MediaState.failed and rows[cancelled.id].error == ABANDONED
    assert rows[current.id].purged_at is None and rows[just_replaced.id].purged_at is None

    assert await purge_media(runtime, now=utcnow() + timedelta(hours=6)) == 1  # just_replaced's grace is over
    assert _stored(runtime, just_replaced) == [] and len(_stored(runtime, current)) == 6


async def test_staged_imports_never_committed_are_deleted_after_a_day(runtime: Runtime) -> None:
    staged = [keys.import_staging_key(900_001, f"token-{n}-{uuid.uuid4().hex}") for n in range(2)]
    other = f"uploads/{uuid.uuid4()}/source"
    for key in (*staged, other):
        runtime.storage.put_bytes(key, b"sheet")
    assert set(staged) <= set(runtime.storage.list_keys(keys.IMPORTS_PREFIX))
    await purge_staged_imports(runtime)
    assert set(staged) <= set(runtime.storage.list_keys(keys.IMPORTS_PREFIX))  # previewed just now: kept

    assert await purge_staged_imports(runtime, now=utcnow() + STAGED_IMPORT_MAX_AGE + timedelta(minutes=1)) >= 2
    assert not set(staged) & set(runtime.storage.list_keys(keys.IMPORTS_PREFIX))
    assert runtime.storage.size_of(other) == 5


async def test_finished_jobs_are_pruned_by_age_and_outcome(runtime: Runtime) -> None:
    async def job(status: str, days_ago: int) -> int:
        job_id = await defer(runtime.jobs, PING_TASK, requested_by="prune-test")
        async with runtime.sessions() as db:
            await db.exec(text("UPDATE procrastinate_jobs SET status = CAST(:s AS procrastinate_job_status) "
                               "WHERE id = :j").bindparams(s=status, j=job_id))
            await db.exec(text("UPDATE procrastinate_events SET at = now() - make_interval(days => :d) "
                               "WHERE job_id = :j").bindparams(d=days_ago, j=job_id))
            await db.commit()
        return job_id

    jobs = {"old success": await job("succeeded", 8), "recent success": await job("succeeded", 6),
            "old failure": await job("failed", 31), "recent failure": await job("failed", 8),
            "old cancellation": await job("cancelled", 31), "waiting": await job("todo", 40)}
    await prune_finished_jobs(runtime.jobs)
    async with runtime.sessions() as db:
        left = set((await db.exec(text("SELECT id FROM procrastinate_jobs WHERE id = ANY(:ids)").bindparams(
            ids=list(jobs.values())))).scalars())
    assert {name for name, job_id in jobs.items() if job_id in left} == {"recent success", "recent failure", "waiting"}
