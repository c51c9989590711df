"""Storage garbage, deleted by periodic jobs (worker/tasks.py): media nobody plays any more, stale import files.

A media row's objects (its source upload and every attempt: HLS renditions, poster, sprite) become garbage when
it was replaced by a newer recording (superseded_at, set by the transcoder), failed for good, or its transcode
job ended without finishing it (cancelled, aborted, or failed while the row was being written). They are deleted
settings.media_purge_grace_hours later, so players that loaded the old playlist keep working meanwhile; the row
stays, marked purged, because attendance and the audit log name it. A lecture's current media is never purged.

Member-import files wait under keys.IMPORTS_PREFIX between preview and commit; those never committed go after
STAGED_IMPORT_MAX_AGE.

Pictures (lecturer photos, series and lecture covers) are swept rather than tracked: an image is garbage once no
row names it, whether it was replaced, its row deleted, or it was uploaded for a change that was never saved.
Nothing is deleted within settings.image_purge_grace_hours of its upload (a form may be about to save it) nor of
its release as the audit log records it (pages and redirects cached elsewhere may still link it).
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import anyio
import structlog
from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server import keys
from server.db import transaction
from server.jobs import TRANSCODE_TASK
from server.models.base import utcnow
from server.models.catalogue import Lecture, Lecturer, Series
from server.models.media import Media, MediaState
from server.runtime import Runtime
from server.storage import Storage

log = structlog.get_logger()

STAGED_IMPORT_MAX_AGE = timedelta(days=1)
FINAL = (MediaState.ready, MediaState.failed)
# A transcode job in one of these states will not run again by itself.
ENDED_JOB_STATES = ("cancelled", "aborted", "failed")
ABANDONED = "转码未完成，请重新上传"
# Every column that names a stored image (the unsized key; its sizes derive from it).
IMAGE_COLUMNS = (Lecturer.photo_key, Series.cover_key, Lecture.cover_key)
# Keys listed, decided and deleted at a time (one delete_objects call): the sweep never holds the whole listing.
IMAGE_SWEEP_BATCH = 1000
FOREIGN_SAMPLE = 10


@dataclass(frozen=True)
class MediaFacts:
    """What the purge decision needs to know about one media row not purged yet."""

    id: str
    upload_id: str | None
    state: MediaState
    current: bool  # the lecture's current media
    superseded_at: datetime | None
    updated_at: datetime
    job_ended: bool  # its transcode job will not run again


@dataclass(frozen=True)
class MediaPurge:
    media_id: str
    prefixes: list[str]
    abandoned: bool  # never reached a final state: the row is marked failed as well
    updated_at: datetime  # as seen when decided


# --- pure decisions -------------------------------------------------------------------------------


def media_due(media: Iterable[MediaFacts], *, now: datetime, grace: timedelta) -> list[MediaPurge]:
    """The media whose objects may go now, each with the key prefixes that belong to it alone."""
    cutoff = now - grace
    due: list[MediaPurge] = []
    for m in media:
        if m.current:
            continue
        superseded = m.state == MediaState.ready and m.superseded_at is not None and m.superseded_at <= cutoff
        failed = m.state == MediaState.failed and m.updated_at <= cutoff
        abandoned = m.state not in FINAL and m.job_ended and m.updated_at <= cutoff
        if superseded or failed or abandoned:
            due.append(MediaPurge(m.id, keys.media_owned_prefixes(m.id, m.upload_id), abandoned, m.updated_at))
    return due


def stale_imports(objects: Iterable[tuple[str, datetime]], *, now: datetime) -> list[str]:
    """Keys of staged import files older than STAGED_IMPORT_MAX_AGE."""
    return [key for key, modified in objects if modified <= now - STAGED_IMPORT_MAX_AGE]


@dataclass(frozen=True)
class ImageSweep:
    garbage: list[str]
    foreign: list[str]  # under images/ but not shaped like our keys: not ours to judge, so left alone


def orphaned_images(stored: Iterable[tuple[str, datetime]], referenced: Set[str], *, now: datetime,
                    grace: timedelta) -> ImageSweep:
    """Which stored image objects may go: every size of an image whose key no row names, uploaded over ``grace`` ago.

    ``referenced`` holds row keys (images/{uuid}.jpg); a stored object is any size of one (images/{uuid}-320.jpg)."""
    garbage: list[str] = []
    foreign: list[str] = []
    for key, modified in stored:
        base = keys.image_base_key(key)
        if base is None:
            foreign.append(key)
        elif base not in referenced and modified < now - grace:
            garbage.append(key)
    return ImageSweep(garbage, foreign)


# --- the jobs -------------------------------------------------------------------------------------

# The newest transcode job of each media: a stalled job is retried in place, so one row per media in practice.
_LAST_JOB_STATUS = text("""
SELECT DISTINCT ON (args->>'media_id') args->>'media_id', status::text FROM procrastinate_jobs
WHERE task_name = :task AND args->>'media_id' = ANY(:ids) ORDER BY args->>'media_id', id DESC
""")


async def purge_media(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Delete the objects of every media due (see media_due) and mark the rows purged; returns how many."""
    now = now or utcnow()
    async with runtime.sessions() as db:
        facts = await _unpurged_media(db)
    due = media_due(facts, now=now, grace=timedelta(hours=runtime.settings.media_purge_grace_hours))
    purged = 0
    for purge in due:
        purged += await _purge_one(runtime, purge, now)
    return purged


async def _unpurged_media(db: AsyncSession) -> list[MediaFacts]:
    rows = (await db.exec(
        select(Media, col(Lecture.current_media_id) == Media.id).join(Lecture, col(Lecture.id) == Media.lecture_id)
        .where(col(Media.purged_at).is_(None),
               col(Media.superseded_at).is_not(None) | (col(Media.state) != MediaState.ready)))).all()
    unfinished = [m.id for m, _ in rows if m.state not in FINAL]
    last_job: dict[str, str] = {}
    if unfinished:
        found = await db.exec(_LAST_JOB_STATUS, params={"task": TRANSCODE_TASK, "ids": unfinished})
        last_job = {media_id: status for media_id, status in found.all()}
    return [MediaFacts(m.id, m.upload_id, m.state, bool(current), m.superseded_at, m.updated_at,
                       last_job.get(m.id) in ENDED_JOB_STATES) for m, current in rows]


async def _purge_one(runtime: Runtime, purge: MediaPurge, now: datetime) -> int:
    """Mark, then delete, in one transaction: a failed delete leaves the row unmarked for the next run."""
    # Nothing may point at the deleted objects any more (an editor's preview would fail on them).
    values: dict[str, Any] = dict(purged_at=now, playable=False, published_prefix=None, poster_key=None,
                                  thumbs_key=None)
    if purge.abandoned:
        values.update(state=MediaState.failed, error=ABANDONED, eta_s=None, updated_at=now)
    async with transaction(runtime.sessions) as db:
        # Unchanged since decided: a job retried meanwhile (it claims a new attempt) keeps its media.
        claimed = (await db.exec(update(Media).where(col(Media.id) == purge.media_id, col(Media.purged_at).is_(None),
                                                     col(Media.updated_at) == purge.updated_at)
                                 .values(**values).returning(Media.id))).first()
        if claimed is None:
            return 0
        deleted = 0
        for prefix in purge.prefixes:
            deleted += await anyio.to_thread.run_sync(runtime.storage.delete_prefix, prefix)
    log.info("media_purged", media_id=purge.media_id, objects=deleted, abandoned=purge.abandoned)
    return 1


async def purge_staged_imports(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Delete member-import files never committed; returns how many."""
    storage = runtime.storage
    stored = await anyio.to_thread.run_sync(lambda: list(storage.list_modified(keys.IMPORTS_PREFIX)))
    stale = stale_imports(stored, now=now or utcnow())
    return await anyio.to_thread.run_sync(storage.delete_keys, stale) if stale else 0


# Image keys the audit log shows leaving a row (replaced, or the row deleted) since a moment; ``before`` is always
# an object (services.audit.record) and names the image columns it changed with their old values.
_RELEASED_IMAGE_KEYS = text("""
SELECT DISTINCT e.value FROM audit_log, jsonb_each_text(audit_log.before) AS e
WHERE audit_log.at > :since AND e.value LIKE :prefix
""")


async def purge_images(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Delete the stored images no row names (see orphaned_images); returns how many objects."""
    now = now or utcnow()
    grace = timedelta(hours=runtime.settings.image_purge_grace_hours)
    # Read before listing: a key saved after this read belongs to an upload younger than the grace, which stays.
    async with runtime.sessions() as db:
        referenced = await _images_in_use(db, released_since=now - grace)
    return await anyio.to_thread.run_sync(_sweep_images, runtime.storage, referenced, now, grace)


async def _images_in_use(db: AsyncSession, *, released_since: datetime) -> set[str]:
    """Keys rows name now, and keys released since ``released_since`` (links to them may still be cached)."""
    in_use: set[str] = set()
    for column in IMAGE_COLUMNS:
        in_use.update((await db.exec(select(column).where(col(column).is_not(None)).distinct())).all())
    found = await db.exec(_RELEASED_IMAGE_KEYS, params={"since": released_since, "prefix": f"{keys.IMAGES_PREFIX}%"})
    in_use.update(found.scalars())
    return in_use


def _sweep_images(storage: Storage, referenced: set[str], now: datetime, grace: timedelta) -> int:
    """List images/ page by page and delete each page's garbage before reading the next."""
    listing = storage.list_modified(keys.IMAGES_PREFIX)
    deleted = foreign = 0
    sample: list[str] = []
    while batch := list(islice(listing, IMAGE_SWEEP_BATCH)):
        sweep = orphaned_images(batch, referenced, now=now, grace=grace)
        if sweep.garbage:
            deleted += storage.delete_keys(sweep.garbage)
        foreign += len(sweep.foreign)
        sample += sweep.foreign[:FOREIGN_SAMPLE - len(sample)]
    if foreign:
        # Something else writes under images/: say so, but never delete what we did not make.
        log.warning("images_foreign_keys", count=foreign, sample=sample)
    log.info("images_purged", objects=deleted, referenced=len(referenced))
    return deleted
