"""Deleting a lecture: who may, when it is refused, and an order of work that survives a failing S3.

Editors (see permissions.can_edit_lecture) may delete their own drafts that never entered the review workflow;
anything with workflow history is for admins alone. A lecture with attendance (credited watching or a check-in)
is never deleted, whoever asks: the reports rest on those records, so it is archived instead.

A short transaction decides, with the lecture row locked: it closes the lecture's open viewing sessions (so
no credit is earned any more) and applies the rules. The objects are then deleted with no lock held, and a
second short transaction deletes the row. If S3 fails halfway the row stays (with everything naming its
objects) and the same request later finishes the job, since deleting an already deleted prefix is a no-op.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import exists, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import transaction
from server.errors import Conflict, Forbidden
from server.models.attendance import CheckIn, ViewingSession, WatchProgress
from server.models.base import utcnow
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
        # Nobody earns credit from here on. Sessions are taken before progress is read, the order heartbeat
        # writes take rows in, so the two never wait for each other the wrong way round.
        await db.exec(update(ViewingSession).where(col(ViewingSession.lecture_id) == lecture_id,
                                                   col(ViewingSession.closed_at).is_(None))
                      .values(closed_at=utcnow(), close_reason="lecture_deleted"))
        reason = refusal(is_admin=actor.is_admin, can_edit=can_edit, status=lecture.status,
                         has_workflow=await has_workflow(db, lecture_id),
                         has_attendance=await has_attendance(db, lecture_id))
        if reason is not None:
            raise reason  # rolls the closing back too
        before: dict[str, Any] = {**snapshot(lecture), "lecturer_ids": [
            lr.id for lr in (await lecturers_of(db, [lecture_id]))[lecture_id]]}
    # S3 may take seconds: no lock is held meanwhile. If it fails, only the sessions were closed (players
    # open new ones) and the same request later finishes the job.
    deleted = await delete_lecture_objects(runtime, lecture_id)
    async with transaction(runtime.sessions) as db:
        row = (await db.exec(select(Lecture).where(col(Lecture.id) == lecture_id).with_for_update())).first()
        if row is not None:  # else a concurrent request finished first
            await record(db, actor_id=actor.user_id, action="lecture.delete", target_type="lecture",
                         target_id=lecture_id, before=before, after={"objects_deleted": deleted}, ip=ip)
            await db.delete(row)
    log.info("lecture_deleted", lecture_id=lecture_id, objects=deleted, by=actor.user_id)
    return deleted
