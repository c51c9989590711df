from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import text

from server import embedded, keys
from server.db import transaction
from server.jobs import PING_TASK, TRANSCODE_TASK, defer, prune_finished_jobs
from server.models.base import utcnow
from server.models.catalogue import Lecture
from server.models.media import Media, MediaState, Upload, UploadState
from server.models.people import Role
from server.runtime import Runtime
from server.services import catalogue, lecture_admin, roster
from server.services.images import WIDTHS, ImageKind, store_image
from server.services.lecture_delete import delete_lecture
from server.services.purge import (
    ABANDONED,
    STAGED_IMPORT_MAX_AGE,
    MediaFacts,
    media_due,
    orphaned_images,
    purge_images,
    purge_media,
    purge_staged_imports,
    stale_imports,
)
from server.storage import S3Config, Storage
from tests.factories import make_user
from tests.server.catalogue_fixtures import actor_of, make_lecturer
from tests.server.media_support import make_lecture

NOW = utcnow()
GRACE = timedelta(hours=6)



@pytest.fixture
def bucket(s3: embedded.EmbeddedS3) -> str:
    """A bucket of each test's own: a purge run with the clock days ahead would delete what other tests stored."""
    name = f"jt-purge-{uuid.uuid4().hex[:12]}"
    Storage(S3Config(endpoint_url=s3.endpoint_url, access_key=s3.access_key, secret_key=s3.secret_key,
                     bucket=name)).ensure_bucket()
    return name

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


def _image() -> tuple[str, list[str]]:
    """A row key and every object stored for it (the key itself and its sizes)."""
    key = keys.new_image_key()
    return key, [key, *(keys.sized_image_key(key, w) for w in WIDTHS[ImageKind.avatar])]


def _orphans(stored: list[tuple[str, datetime]], referenced: set[str]) -> list[str]:
    return orphaned_images(stored, referenced, now=NOW, grace=timedelta(days=1)).garbage


def test_every_size_of_an_image_no_row_names_is_garbage_and_a_named_one_keeps_them_all() -> None:
    (kept, kept_objects), (dropped, dropped_objects) = _image(), _image()
    old = NOW - timedelta(days=30)
    stored = [(k, old) for k in (*kept_objects, *dropped_objects)]
    assert _orphans(stored, {kept}) == dropped_objects
    assert _orphans(stored, {kept, dropped}) == []


def test_images_uploaded_within_the_grace_period_stay() -> None:
    _, objects = _image()
    ages = [timedelta(days=1, seconds=1), timedelta(days=1), timedelta(hours=1), timedelta(0)]
    stored = [(key, NOW - age) for key, age in zip(objects, ages, strict=True)]
    assert _orphans(stored, set()) == [objects[0]]  # a form may still save the others' key
    assert orphaned_images(stored, set(), now=NOW, grace=timedelta(0)).garbage == objects[:3]


def test_keys_not_shaped_like_ours_are_reported_and_left_alone() -> None:
    junk = ["images/readme.txt", "images/" + "A" * 32 + ".jpg", "images/thumbs/" + "a" * 32 + ".jpg",
            "images/" + "a" * 32 + "-1.jpg"]
    sweep = orphaned_images([(k, NOW - timedelta(days=9)) for k in junk], set(), now=NOW, grace=timedelta(0))
    assert sweep.garbage == [] and sweep.foreign == junk


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

    assert await purge_staged_imports(runtime, now=utcnow() + STAGED_IMPORT_MAX_AGE + timedelta(minutes=1)) == 2
    assert not set(staged) & set(runtime.storage.list_keys(keys.IMPORTS_PREFIX))
    assert runtime.storage.size_of(other) == 5


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


async def _upload(runtime: Runtime, kind: ImageKind) -> str:
    return await store_image(runtime.storage, _picture(), kind)


def _objects(key: str, kind: ImageKind) -> list[str]:
    """The stored objects of an image: the key itself, then its sizes."""
    return [key, *(keys.sized_image_key(key, w) for w in WIDTHS[kind])]


def _kept(runtime: Runtime, key: str, kind: ImageKind) -> list[bool]:
    return [runtime.storage.size_of(name) is not None for name in _objects(key, kind)]


async def test_images_no_row_names_are_deleted_once_the_grace_period_is_over(runtime: Runtime) -> None:
    admin = await make_user(runtime, Role.admin)
    actor = actor_of(admin)
    lecturer = await make_lecturer(runtime, admin, "孙师傅")
    replaced, photo = await _upload(runtime, ImageKind.avatar), await _upload(runtime, ImageKind.avatar)
    for key in (replaced, photo):  # the photo is replaced the way the upload route does it
        async with transaction(runtime.sessions) as db:
            await roster.set_photo(db, actor=actor, lecturer_id=lecturer.id or 0, key=key, ip=None)
    unsaved = await _upload(runtime, ImageKind.avatar)  # stored, then the form was abandoned
    kept_lecture, deleted_lecture = await make_lecture(runtime, admin), await make_lecture(runtime, admin)
    cover, deleted_cover = await _upload(runtime, ImageKind.cover), await _upload(runtime, ImageKind.cover)
    for lecture, key in ((kept_lecture, cover), (deleted_lecture, deleted_cover)):
        async with transaction(runtime.sessions) as db:
            await lecture_admin.set_cover(db, actor=actor, lecture_id=lecture.id or 0, key=key, ip=None)
    await delete_lecture(runtime, actor=actor, lecture_id=deleted_lecture.id or 0, ip=None)
    assert all(_kept(runtime, deleted_cover, ImageKind.cover))  # lecture deletion leaves its cover to the purge
    async with transaction(runtime.sessions) as db:
        series = await catalogue.save_series(db, actor=actor, series_id=None, values={
            "title": "工匠精神", "description": "", "sort": 0, "featured": False}, ip=None)
    series_cover = await _upload(runtime, ImageKind.cover)
    async with transaction(runtime.sessions) as db:
        await catalogue.set_series_cover(db, actor=actor, series_id=series.id or 0, key=series_cover, ip=None)
    async with transaction(runtime.sessions) as db:
        await catalogue.delete_series(db, actor=actor, series_id=series.id or 0, ip=None)
    foreign = f"images/notes-{uuid.uuid4().hex}.txt"
    runtime.storage.put_bytes(foreign, b"not ours")
    released = [(replaced, ImageKind.avatar), (deleted_cover, ImageKind.cover), (series_cover, ImageKind.cover)]
    in_use = [(photo, ImageKind.avatar), (cover, ImageKind.cover)]

    await purge_images(runtime)  # everything was uploaded just now: kept
    assert all(all(_kept(runtime, key, kind)) for key, kind in [*released, *in_use, (unsaved, ImageKind.avatar)])

    grace = timedelta(hours=runtime.settings.image_purge_grace_hours)
    later = utcnow() + grace + timedelta(minutes=1)
    # As if the replacements and deletions had happened an hour before: links to those images may still be cached.
    async with runtime.sessions() as db:
        await db.exec(text("UPDATE audit_log SET at = :at").bindparams(at=later - timedelta(hours=1)))
        await db.commit()
    assert await purge_images(runtime, now=later) == len(_objects(unsaved, ImageKind.avatar))
    assert not any(_kept(runtime, unsaved, ImageKind.avatar))
    assert all(all(_kept(runtime, key, kind)) for key, kind in [*released, *in_use])

    assert await purge_images(runtime, now=later + grace) == sum(len(_objects(k, kind)) for k, kind in released)
    assert not any(any(_kept(runtime, key, kind)) for key, kind in released)
    assert all(all(_kept(runtime, key, kind)) for key, kind in in_use)
    assert runtime.storage.size_of(foreign) == 8


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
