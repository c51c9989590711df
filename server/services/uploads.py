"""Resumable uploads: the browser (or the CLI) sends parts straight to S3; the server plans, signs and completes.

Nothing large passes through this process: it creates the multipart upload, presigns part URLs, asks S3
which parts it holds (to resume), and on completion checks every part and the total size before handing the
source to the transcoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

import anyio
from botocore.exceptions import ClientError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server import jobs, keys
from server.db import transaction
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureLecturer, Lecturer
from server.models.media import Media, Upload, UploadState
from server.permissions import Actor, can_edit_lecture
from server.runtime import Runtime
from server.settings import Settings
from server.storage import StoredPart

MAX_PARTS = 10_000  # S3's limit per multipart upload
MAX_URLS_PER_REQUEST = 20
MiB = 1024 * 1024


@dataclass(frozen=True)
class UploadPlan:
    upload_id: str
    part_size: int
    part_count: int
    uploaded_parts: list[int]
    resumed: bool


# --- pure decisions -------------------------------------------------------------------------------


def part_plan(size: int, min_part_bytes: int) -> tuple[int, int]:
    """(part_size, part_count): the configured part size, grown in whole MiB when S3's part limit needs it."""
    part_size = max(min_part_bytes, math.ceil(size / MAX_PARTS / MiB) * MiB)
    return part_size, max(1, math.ceil(size / part_size))


def file_problem(filename: str, size: int, settings: Settings) -> dict[str, str]:
    """Field errors (Chinese) for a file the user wants to upload; empty when acceptable."""
    problems: dict[str, str] = {}
    ext = PurePosixPath(filename.replace("\\", "/")).suffix.lower().lstrip(".")
    if ext not in settings.allowed_extensions:
        allowed = "、".join(sorted(settings.allowed_extensions))
        problems["filename"] = f"不支持的文件类型，请上传以下格式之一：{allowed}"
    if size <= 0:
        problems["size"] = "文件是空的"
    elif size > settings.max_upload_bytes:
        problems["size"] = f"文件过大，最大允许 {settings.max_upload_bytes / 1024**3:.1f} GB"
    return problems


def pick_parts(parts: list[StoredPart], *, size: int, part_size: int) -> list[StoredPart]:
    """One entry per part number, in order. SeaweedFS lists a part once per time it was sent; when the
    copies differ, the one of the expected size wins (a retried part of a correct client is identical)."""
    chosen: dict[int, StoredPart] = {}
    for part in parts:
        if part.number not in chosen or part.size == expected_size(part.number, size, part_size):
            chosen[part.number] = part
    return [chosen[n] for n in sorted(chosen)]


def expected_size(number: int, size: int, part_size: int) -> int:
    count = math.ceil(size / part_size)
    return part_size if number < count else size - (count - 1) * part_size


def parts_problem(parts: list[StoredPart], *, size: int, part_size: int, part_count: int) -> str | None:
    """Why the stored parts do not make up the declared file (Chinese), or None if they do."""
    numbers = [p.number for p in parts]
    missing = sorted(set(range(1, part_count + 1)) - set(numbers))
    if missing:
        shown = "、".join(str(n) for n in missing[:10])
        return f"还有 {len(missing)} 个分片未上传（第 {shown} 段），请重新选择同一文件继续上传"
    if len(numbers) != part_count:
        return "存储中的分片与计划不一致，请取消后重新上传"
    total = sum(p.size for p in parts)
    if total != size:
        return f"已上传的大小（{total} 字节）与文件大小（{size} 字节）不一致，请重新选择同一文件继续上传"
    if any(p.size != part_size for p in parts[:-1]):
        return "分片大小不一致，请取消后重新上传"
    return None


# --- lecture access -------------------------------------------------------------------------------


async def editable_lecture(db: AsyncSession, actor: Actor, lecture_id: int) -> Lecture:
    lecture = await db.get(Lecture, lecture_id)
    if lecture is None:
        raise NotFound("讲座不存在")
    lecturer_users = set((await db.exec(
        select(Lecturer.user_id).join(LectureLecturer, col(LectureLecturer.lecturer_id) == Lecturer.id)
        .where(LectureLecturer.lecture_id == lecture_id, col(Lecturer.user_id).is_not(None))
    )).all())
    if not can_edit_lecture(actor, owner_id=lecture.owner_id, lecturer_user_ids={u for u in lecturer_users if u}):
        raise Forbidden("只有本讲座的主讲人或管理员可以上传录像")
    return lecture


async def _editable_upload(db: AsyncSession, actor: Actor, upload_id: str, *, lock: bool = False) -> Upload:
    if not keys.is_uuid(upload_id):
        raise NotFound("上传不存在")
    query = select(Upload).where(Upload.id == upload_id)
    upload = (await db.exec(query.with_for_update() if lock else query)).first()
    if upload is None:
        raise NotFound("上传不存在")
    await editable_lecture(db, actor, upload.lecture_id)
    return upload


# --- the operations -------------------------------------------------------------------------------


async def start_upload(runtime: Runtime, *, actor: Actor, lecture_id: int, filename: str, size: int,
                       content_type: str, last_modified: int) -> UploadPlan:
    settings = runtime.settings
    filename = filename.strip()[:255]
    problems = file_problem(filename, size, settings)
    if problems:
        raise Invalid(next(iter(problems.values())), fields=problems)
    part_size, part_count = part_plan(size, settings.upload_part_bytes)
    async with transaction(runtime.sessions) as db:
        lecture = await editable_lecture(db, actor, lecture_id)
        if lecture.kind != LectureKind.online:
            raise Invalid("只有线上讲座可以上传录像")
        previous = (await db.exec(select(Upload).where(
            Upload.lecture_id == lecture_id, Upload.user_id == actor.user_id, Upload.filename == filename,
            Upload.size == size, Upload.last_modified == last_modified, Upload.state == UploadState.active,
        ).order_by(col(Upload.created_at).desc()))).first()
        if previous is not None:
            try:
                stored = await anyio.to_thread.run_sync(runtime.storage.list_parts, previous.s3_key,
                                                        previous.s3_upload_id)
                stored = pick_parts(stored, size=size, part_size=previous.part_size)
            except ClientError:
                previous.state = UploadState.aborted  # gone from S3 (aborted elsewhere): start afresh
                db.add(previous)
            else:
                return UploadPlan(previous.id, previous.part_size, math.ceil(size / previous.part_size),
                                  [p.number for p in stored
                                   if p.size == expected_size(p.number, size, previous.part_size)],
                                  resumed=True)
        upload = Upload(lecture_id=lecture_id, user_id=actor.user_id, s3_key="", s3_upload_id="",
                        filename=filename, size=size, content_type=(content_type or "")[:100],
                        last_modified=last_modified, part_size=part_size)
        upload.s3_key = keys.upload_source_key(upload.id)
        # The object's type is fixed: a browser-declared type must never be served back from our bucket.
        upload.s3_upload_id = await anyio.to_thread.run_sync(runtime.storage.create_multipart, upload.s3_key)
        db.add(upload)
    return UploadPlan(upload.id, part_size, part_count, [], resumed=False)


async def part_urls(runtime: Runtime, *, actor: Actor, upload_id: str, part_numbers: list[int]) -> dict[str, str]:
    async with runtime.sessions() as db:
        upload = await _editable_upload(db, actor, upload_id)
    if upload.state != UploadState.active:
        raise Conflict("此上传已结束，请重新选择文件上传")
    count = math.ceil(upload.size / upload.part_size)
    if not part_numbers or len(part_numbers) > MAX_URLS_PER_REQUEST:
        raise Invalid(f"每次可申请 1 至 {MAX_URLS_PER_REQUEST} 个分片地址", fields={"part_numbers": "数量不正确"})
    if any(n < 1 or n > count for n in part_numbers):
        raise Invalid("分片编号超出范围", fields={"part_numbers": f"应在 1 至 {count} 之间"})
    ttl = runtime.settings.presign_ttl_s
    return {str(n): runtime.storage.presign_part(upload.s3_key, upload.s3_upload_id, n, ttl)
            for n in sorted(set(part_numbers))}


async def complete_upload(runtime: Runtime, *, actor: Actor, upload_id: str) -> Media:
    storage = runtime.storage
    async with transaction(runtime.sessions) as db:
        upload = await _editable_upload(db, actor, upload_id, lock=True)
        if upload.state == UploadState.completed:
            media = (await db.exec(select(Media).where(Media.upload_id == upload.id))).first()
            if media is not None:
                return media  # a retried request after a lost response
        if upload.state != UploadState.active:
            raise Conflict("此上传已取消或过期，请重新选择文件上传")
        try:
            parts = await anyio.to_thread.run_sync(storage.list_parts, upload.s3_key, upload.s3_upload_id)
        except ClientError:
            raise Conflict("存储中找不到此上传，可能已过期，请重新选择文件上传") from None
        parts = pick_parts(parts, size=upload.size, part_size=upload.part_size)
        problem = parts_problem(parts, size=upload.size, part_size=upload.part_size,
                                part_count=math.ceil(upload.size / upload.part_size))
        if problem:
            raise Conflict(problem, code="upload_incomplete")
        await anyio.to_thread.run_sync(storage.complete_multipart, upload.s3_key, upload.s3_upload_id, parts)
        stored_size = await anyio.to_thread.run_sync(storage.size_of, upload.s3_key)
        if stored_size != upload.size:
            raise Conflict("合并后的文件大小不正确，请重新上传")
        upload.state = UploadState.completed
        upload.completed_at = utcnow()
        db.add(upload)
        media = Media(lecture_id=upload.lecture_id, upload_id=upload.id, source_key=upload.s3_key)
        db.add(media)
    # Deferred after commit: the worker must find the row it is asked to transcode.
    await queue_transcode(runtime, media.id)
    return media


async def queue_transcode(runtime: Runtime, media_id: str) -> None:
    await jobs.defer(runtime.jobs, jobs.TRANSCODE_TASK, lock=f"media:{media_id}", queueing_lock=f"transcode:{media_id}",
                     media_id=media_id)


async def abort_upload(runtime: Runtime, *, actor: Actor, upload_id: str) -> None:
    async with transaction(runtime.sessions) as db:
        upload = await _editable_upload(db, actor, upload_id, lock=True)
        if upload.state == UploadState.completed:
            raise Conflict("上传已完成，不能取消")
        if upload.state == UploadState.active:
            await anyio.to_thread.run_sync(runtime.storage.abort_multipart, upload.s3_key, upload.s3_upload_id)
            upload.state = UploadState.aborted
            db.add(upload)


async def abort_stale_uploads(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Abort multipart uploads abandoned longer than settings.stale_upload_hours; returns how many."""
    cutoff = (now or utcnow()) - timedelta(hours=runtime.settings.stale_upload_hours)
    storage = runtime.storage
    aborted = 0
    async with transaction(runtime.sessions) as db:
        stale = (await db.exec(select(Upload).where(Upload.state == UploadState.active,
                                                    col(Upload.created_at) < cutoff).with_for_update(
            skip_locked=True))).all()
        for upload in stale:
            await anyio.to_thread.run_sync(storage.abort_multipart, upload.s3_key, upload.s3_upload_id)
            upload.state = UploadState.aborted
            db.add(upload)
            aborted += 1
        known = set((await db.exec(select(Upload.s3_upload_id).where(Upload.state == UploadState.active))).all())
    # Multipart uploads S3 holds that no active row claims (e.g. the row was deleted with its lecture).
    for item in await anyio.to_thread.run_sync(storage.list_multipart_uploads, "uploads/"):
        if item["UploadId"] not in known and item["Initiated"] < cutoff:
            await anyio.to_thread.run_sync(storage.abort_multipart, item["Key"], item["UploadId"])
            aborted += 1
    return aborted
