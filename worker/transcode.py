"""The transcode task body: S3 source → private working dir → engine → progressive publish → media row.

Attempts: each run claims the next Media.attempt number and writes under media/{id}/{attempt}/. Every later
write to the row is a compare-and-set on (attempt, state not final), so when a newer attempt has started
(a stalled job retried while its old worker still runs) the older one notices, stops its ffmpeg and removes
its objects; only the attempt that still owns the row when it finishes flips it to ready.
"""

from __future__ import annotations

import errno
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import structlog
from botocore.exceptions import BotoCoreError, ClientError
from procrastinate.exceptions import JobAborted
from sqlalchemy import or_, update
from sqlmodel import col, select

from server import keys
from server.db import transaction
from server.models.base import utcnow
from server.models.catalogue import Lecture
from server.models.media import Media, MediaState
from server.runtime import Runtime
from worker.media import run as engine_run
from worker.media.ladder import Rendition
from worker.media.pipeline import TranscodeResult, transcode_to_dir
from worker.media.types import MediaInfo, MediaLimits, MediaRejected
from worker.publish import Publisher

log = structlog.get_logger()

# Procrastinate retries after the first run; the run with this many previous attempts is last. Runs lost with
# their worker (kill -9, machine gone) count too, so this leaves room for several crashes and an outage.
MAX_RETRIES = 6
POLL_S = 0.5
PROGRESS_EVERY_S = 1.0
FINAL = (MediaState.ready, MediaState.failed)
GAVE_UP = "转码多次失败，请稍后重新上传；如仍失败，请联系管理员"
DISK_FULL = "转码服务器磁盘空间不足，稍后将自动重试"
STORAGE_DOWN = "存储服务暂时不可用，稍后将自动重试"
WILL_RETRY = "转码出错，稍后将自动重试"


class Superseded(Exception):
    """A newer attempt owns the media row; this one stops and cleans up after itself."""


def is_last_run(job_attempts: int) -> bool:
    return job_attempts >= MAX_RETRIES


def progress_due(last_write: float, now: float) -> bool:
    return now - last_write >= PROGRESS_EVERY_S


def retry_reason(exc: BaseException) -> str:
    """Pure: why a run that will be retried failed, for the uploader (Chinese)."""
    seen: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.append(current)
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return DISK_FULL
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    if any(isinstance(e, BotoCoreError | ClientError) for e in seen):
        return STORAGE_DOWN
    return WILL_RETRY


@dataclass
class _Live:
    """What the engine's threads report, read by the async loop."""

    info: MediaInfo | None = None
    renditions: list[Rendition] | None = None
    progress: engine_run.Progress | None = None


async def transcode_media(runtime: Runtime, media_id: str, *, job_attempts: int = 0,
                          should_abort: Callable[[], bool] = lambda: False,
                          on_put: Callable[[str], None] | None = None) -> None:
    if job_attempts > MAX_RETRIES:  # a stalled job retried once too often
        await _fail_any(runtime, media_id, GAVE_UP)
        return
    attempt = await _claim(runtime, media_id)
    if attempt is None:
        return
    workdir = runtime.settings.worker_dir / f"{media_id}.{attempt}"
    for left in runtime.settings.worker_dir.glob(f"{media_id}.*"):  # by earlier attempts, now superseded
        shutil.rmtree(left, ignore_errors=True)
    workdir.mkdir(parents=True, mode=0o700)
    prefix = keys.attempt_prefix(media_id, attempt)
    try:
        await _run_attempt(runtime, media_id, attempt, workdir, prefix, should_abort, on_put)
    except MediaRejected as exc:
        log.info("media_rejected", media_id=media_id, reason=exc.reason_zh)
        await _finish_failed(runtime, media_id, attempt, exc.reason_zh)
    except Superseded:
        log.info("attempt_superseded", media_id=media_id, attempt=attempt)
        await anyio.to_thread.run_sync(runtime.storage.delete_prefix, prefix)
    except engine_run.ProcessCancelled:
        raise JobAborted() from None
    except Exception as exc:
        log.exception("transcode_attempt_failed", media_id=media_id, attempt=attempt)
        if is_last_run(job_attempts):
            await _finish_failed(runtime, media_id, attempt, GAVE_UP)
        else:
            await _mark_retrying(runtime, media_id, attempt, retry_reason(exc))
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run_attempt(runtime: Runtime, media_id: str, attempt: int, workdir: Path, prefix: str,
                       should_abort: Callable[[], bool], on_put: Callable[[str], None] | None) -> None:
    async with runtime.sessions() as db:
        media = await db.get(Media, media_id)
    assert media is not None
    source = workdir / "source"
    await anyio.to_thread.run_sync(runtime.storage.download_file, media.source_key, source)
    outdir = workdir / "out"
    live = _Live()
    cancel = threading.Event()
    limits = MediaLimits(max_file_bytes=runtime.settings.max_upload_bytes)
    publisher = Publisher(runtime.storage, prefix, outdir, on_put=on_put)
    outcome: dict[str, Any] = {}

    def engine() -> None:
        try:
            outcome["result"] = transcode_to_dir(
                source, outdir, ffmpeg=runtime.settings.ffmpeg_binary, limits=limits, cancel=cancel,
                on_probed=lambda info, rungs: (setattr(live, "info", info), setattr(live, "renditions", rungs)),
                on_progress=lambda p: setattr(live, "progress", p))
        except BaseException as exc:  # handed to the async side, which decides
            outcome["error"] = exc

    superseded = False
    async with anyio.create_task_group() as tg:
        done = anyio.Event()

        async def run_engine() -> None:
            try:
                await anyio.to_thread.run_sync(engine)
            finally:
                done.set()

        tg.start_soon(run_engine)
        state, playable, last_write = MediaState.probing, False, 0.0
        try:
            while not done.is_set():
                with anyio.move_on_after(POLL_S):
                    await done.wait()
                if should_abort():
                    cancel.set()
                if live.renditions is None:
                    continue
                rungs = [r.name for r in live.renditions]
                if state == MediaState.probing:
                    state = MediaState.transcoding
                    await _owned_update(runtime, media_id, attempt, **_probed_values(live))
                await anyio.to_thread.run_sync(publisher.sync, rungs)
                if not playable and rungs[0] in publisher.published_rungs():
                    playable = True
                    await _owned_update(runtime, media_id, attempt, playable=True, published_prefix=prefix)
                    await _adopt_if_unplayed(runtime, media_id)
                now = time.monotonic()
                if live.progress is not None and progress_due(last_write, now):
                    last_write = now
                    p = live.progress
                    await _owned_update(runtime, media_id, attempt, percent=min(p.percent or 0.0, 99.0),
                                        eta_s=round(p.eta_s) if p.eta_s is not None else None)
        except Superseded:
            superseded = True
            cancel.set()
        except BaseException:
            cancel.set()  # the engine thread cannot be cancelled from here, only stopped through this
            raise
    if superseded:
        raise Superseded()
    if "error" in outcome:
        raise outcome["error"]
    result: TranscodeResult = outcome["result"]
    await _owned_update(runtime, media_id, attempt, state=MediaState.publishing, percent=99.0, eta_s=None)
    await anyio.to_thread.run_sync(publisher.finish, result)
    await _finish_ready(runtime, media_id, attempt, prefix, result)


def _probed_values(live: _Live) -> dict[str, Any]:
    info, rungs = live.info, live.renditions or []
    width, height = info.video.display_size if info and info.video else (None, None)
    return {"state": MediaState.transcoding, "duration_s": info.duration_s if info else None,
            "width": width, "height": height,
            "renditions": [{"name": r.name, "width": r.width, "height": r.height} for r in rungs]}


# --- the media row ----------------------------------------------------------------------------------


async def _claim(runtime: Runtime, media_id: str) -> int | None:
    """Take the next attempt number; None when the media is gone or already final."""
    async with transaction(runtime.sessions) as db:
        row = (await db.exec(
            update(Media).where(col(Media.id) == media_id, col(Media.state).not_in(FINAL))
            .values(attempt=Media.attempt + 1, state=MediaState.probing, percent=0.0, eta_s=None, error=None,
                    playable=False, published_prefix=None, updated_at=utcnow())
            .returning(Media.attempt))).first()
    return int(row[0]) if row else None


async def _owned_update(runtime: Runtime, media_id: str, attempt: int, **values: Any) -> None:
    async with transaction(runtime.sessions) as db:
        result = await db.exec(
            update(Media).where(col(Media.id) == media_id, col(Media.attempt) == attempt,
                                col(Media.state).not_in(FINAL))
            .values(**values, updated_at=utcnow()))
    if result.rowcount != 1:
        raise Superseded()


async def _adopt_if_unplayed(runtime: Runtime, media_id: str) -> None:
    """A lecture with nothing to play gets this media as soon as its first rung plays."""
    async with transaction(runtime.sessions) as db:
        media = await db.get(Media, media_id)
        assert media is not None
        await db.exec(update(Lecture).where(col(Lecture.id) == media.lecture_id,
                                            col(Lecture.current_media_id).is_(None))
                      .values(current_media_id=media_id))


async def _finish_ready(runtime: Runtime, media_id: str, attempt: int, prefix: str,
                        result: TranscodeResult) -> None:
    video = result.info.video
    width, height = video.display_size if video else (None, None)
    renditions = [{"name": r.name, "width": r.width, "height": r.height, "playlist": r.playlist,
                   "average_bps": r.average_bps, "peak_bps": r.peak_bps, "segments": r.segments}
                  for r in result.renditions]
    await _owned_update(
        runtime, media_id, attempt, state=MediaState.ready, percent=100.0, eta_s=0, playable=True,
        published_prefix=prefix, duration_s=result.duration_s, width=width, height=height,
        renditions=renditions, ready_at=utcnow(),
        poster_key=keys.media_key(prefix, result.poster) if result.poster else None,
        thumbs_key=keys.media_key(prefix, result.sprite_vtt) if result.sprite_vtt else None)
    await _take_place(runtime, media_id)
    await _delete_other_attempts(runtime, media_id, keep=prefix)


async def _take_place(runtime: Runtime, media_id: str) -> None:
    """Make a media that just became ready its lecture's current media, unless a newer upload already is; the
    media left behind (the replaced one, or this one) is marked superseded so its objects get purged later."""
    async with transaction(runtime.sessions) as db:
        media = await db.get(Media, media_id)
        assert media is not None
        # Locked first so that the statements below see a media finishing for the same lecture at the same time.
        previous = (await db.exec(select(Lecture.current_media_id).where(Lecture.id == media.lecture_id)
                                  .with_for_update())).one()
        newer = select(Media.id).where(Media.lecture_id == media.lecture_id,
                                       col(Media.created_at) > media.created_at, Media.state == MediaState.ready)
        adopted = (await db.exec(update(Lecture).where(col(Lecture.id) == media.lecture_id,
                                                       or_(col(Lecture.current_media_id).is_(None),
                                                           col(Lecture.current_media_id).not_in(newer)))
                                 .values(current_media_id=media_id).returning(Lecture.id))).first()
        left_behind = (previous if previous != media_id else None) if adopted else media_id
        if adopted:  # it may have been left behind once before (an older upload finishing in between)
            await db.exec(update(Media).where(col(Media.id) == media_id).values(superseded_at=None))
        if left_behind is not None:
            await db.exec(update(Media).where(col(Media.id) == left_behind, col(Media.superseded_at).is_(None))
                          .values(superseded_at=utcnow()))


async def _finish_failed(runtime: Runtime, media_id: str, attempt: int, reason: str) -> None:
    try:
        await _owned_update(runtime, media_id, attempt, state=MediaState.failed, error=reason[:500],
                            playable=False, published_prefix=None, eta_s=None)
    except Superseded:
        await anyio.to_thread.run_sync(runtime.storage.delete_prefix, keys.attempt_prefix(media_id, attempt))
        return
    await _forget(runtime, media_id)


async def _mark_retrying(runtime: Runtime, media_id: str, attempt: int, reason: str) -> None:
    """Back in the queue with the reason shown; a failing database must not hide the original error."""
    try:
        await _owned_update(runtime, media_id, attempt, state=MediaState.queued, error=reason, eta_s=None)
    except Exception:
        log.warning("retry_state_not_recorded", media_id=media_id, attempt=attempt)


async def _fail_any(runtime: Runtime, media_id: str, reason: str) -> None:
    async with transaction(runtime.sessions) as db:
        await db.exec(update(Media).where(col(Media.id) == media_id, col(Media.state).not_in(FINAL))
                      .values(state=MediaState.failed, error=reason, playable=False, published_prefix=None,
                              updated_at=utcnow()))
    await _forget(runtime, media_id)


async def _forget(runtime: Runtime, media_id: str) -> None:
    """A failed media plays nowhere and keeps no objects; its source goes later (server/services/purge.py)."""
    async with transaction(runtime.sessions) as db:
        await db.exec(update(Lecture).where(col(Lecture.current_media_id) == media_id)
                      .values(current_media_id=None))
    await anyio.to_thread.run_sync(runtime.storage.delete_prefix, keys.media_prefix(media_id))


async def _delete_other_attempts(runtime: Runtime, media_id: str, *, keep: str) -> None:
    root = keys.media_prefix(media_id)

    def delete() -> None:
        attempts = {root + key[len(root):].split("/", 1)[0] + "/" for key in runtime.storage.list_keys(root)}
        for prefix in attempts - {keep}:
            runtime.storage.delete_prefix(prefix)

    await anyio.to_thread.run_sync(delete)
