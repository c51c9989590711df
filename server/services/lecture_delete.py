"""Deleting a lecture: who may, when it is refused, and an order of work that survives a failing S3.

Editors (see permissions.can_edit_lecture) may delete their own drafts that never entered the review workflow;
anything with workflow history is for admins alone. A lecture with attendance (credited watching or a check-in)
is never deleted, whoever asks: the reports rest on those records, so it is archived instead.

The objects go first and the row last, in one transaction that holds the lecture's row lock: if S3 fails
halfway the row stays (with everything naming its objects) and the same request finishes the job, since
deleting an already deleted prefix is a no-op. The lock also keeps new attendance out meanwhile: new check-ins
and viewing sessions wait on the lecture row, existing progress rows are locked before they are checked.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import transaction
from server.errors import Conflict, Forbidden
from server.models.attendance import CheckIn, WatchProgress
from server.models.catalogue import Lecture, LectureStatus, LectureTransition
from server.permissions import Actor
from server.runtime import Runtime
from server.services.audit import record
from server.services.catalogue import lecturers_of, visible_lecture
from server.services.lecture_admin import snapshot
from server.services.media import delete_lecture_objects

log = structlog.get_logger()

NOT_EDITOR = "您不能删除这个讲座"
ADMINS_ONLY = "讲座已提交审核或发布过，只有管理员可以删除"
HAS_ATTENDANCE = "该讲座已有学习或签到记录，统计报表依赖这些记录，不能删除。如不再需要，请将讲座归档。"


def refusal(*, is_admin: bool, can_edit: bool, status: LectureStatus, has_workflow: bool,
            has_attendance: bool) -> Forbidden | Conflict | None:
    """Why this deletion is refused, or None when it may go ahead. Pure.

    Permission comes first, so people who may not delete learn nothing about the lecture's attendance."""
    if not can_edit:
        return Forbidden(NOT_EDITOR)
    if not is_admin and (status is not LectureStatus.draft or has_workflow):
        return Forbidden(ADMINS_ONLY)
    if has_attendance:
        return Conflict(HAS_ATTENDANCE, code="has_attendance")
    return None


async def has_workflow(db: AsyncSession, lecture_id: int) -> bool:
    return bool((await db.exec(select(exists().where(col(LectureTransition.lecture_id) == lecture_id)))).one())


async def has_attendance(db: AsyncSession, lecture_id: int) -> bool:
    """Credited watching (watched_s > 0) or a check-in: the records reports count."""
    watched = exists().where(col(WatchProgress.lecture_id) == lecture_id, col(WatchProgress.watched_s) > 0)
    checked_in = exists().where(col(CheckIn.lecture_id) == lecture_id)
    return bool((await db.exec(select(watched | checked_in))).one())


async def deletion_refusal(db: AsyncSession, *, actor: Actor, lecture: Lecture, can_edit: bool) -> str | None:
    """The Chinese reason an edit page shows instead of the delete button, or None."""
    lecture_id = lecture.id or 0
    reason = refusal(is_admin=actor.is_admin, can_edit=can_edit, status=lecture.status,
                     has_workflow=await has_workflow(db, lecture_id),
                     has_attendance=await has_attendance(db, lecture_id))
    return reason.message if reason else None


async def delete_lecture(runtime: Runtime, *, actor: Actor, lecture_id: int, ip: str | None) -> int:
    """Delete a lecture's S3 objects, then the lecture (its child rows cascade); audited. Returns objects deleted."""
    async with transaction(runtime.sessions) as db:
        await db.exec(select(Lecture.id).where(col(Lecture.id) == lecture_id).with_for_update())
        lecture, can_edit = await visible_lecture(db, lecture_id, actor)
        attended = await has_attendance(db, lecture_id)
        if not attended:
            # Progress rows without credit yet may be credited by a heartbeat any moment: lock, then look again.
            locked = (await db.exec(select(WatchProgress.watched_s).where(WatchProgress.lecture_id == lecture_id)
                                    .with_for_update())).all()
            attended = any(watched > 0 for watched in locked)
        reason = refusal(is_admin=actor.is_admin, can_edit=can_edit, status=lecture.status,
                         has_workflow=await has_workflow(db, lecture_id), has_attendance=attended)
        if reason is not None:
            raise reason
        before: dict[str, Any] = {**snapshot(lecture), "lecturer_ids": [
            lr.id for lr in (await lecturers_of(db, [lecture_id]))[lecture_id]]}
        deleted = await delete_lecture_objects(runtime, lecture_id)
        await record(db, actor_id=actor.user_id, action="lecture.delete", target_type="lecture",
                     target_id=lecture_id, before=before, after={"objects_deleted": deleted}, ip=ip)
        await db.delete(lecture)
    log.info("lecture_deleted", lecture_id=lecture_id, objects=deleted, by=actor.user_id)
    return deleted
