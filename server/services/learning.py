"""Read side of attendance: one person's record for a lecture (who may see it), and "我的学习"."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Forbidden, NotFound
from server.models.attendance import CheckIn, Heartbeat, ViewingSession, WatchProgress
from server.models.catalogue import Lecture
from server.models.people import Unit, User
from server.pagination import Page, offset_of
from server.permissions import Actor, manages_unit
from server.rules.credit import coverage


@dataclass
class AttendanceRecord:
    lecture: Lecture
    user: User
    progress: WatchProgress | None
    sessions: list[ViewingSession]
    heartbeats: list[Heartbeat]

    def summary(self) -> dict[str, object]:
        p = self.progress
        watched = p.watched_s if p else 0.0
        duration = p.duration_s if p else 0.0
        return {
            "user_id": self.user.id, "lecture_id": self.lecture.id,
            "watched_s": round(watched, 1), "duration_s": duration, "coverage": coverage(watched, duration),
            "completed": bool(p and p.completed_at), "completed_at": p.completed_at.isoformat()
            if p and p.completed_at else None,
            "anomalies": p.anomalies if p else 0, "spans": p.spans if p else [],
            "sessions": len(self.sessions),
        }


async def attendance_record(db: AsyncSession, *, actor: Actor, lecture_id: int, user_id: int,
                            with_heartbeats: bool = False) -> AttendanceRecord:
    """A person's record for a lecture: for themselves, admins, and unit admins of their unit subtree."""
    row = (await db.exec(select(User, Unit.path).outerjoin(Unit, col(Unit.id) == User.unit_id)
                         .where(User.id == user_id))).first()
    lecture = await db.get(Lecture, lecture_id)
    if row is None or lecture is None:
        raise NotFound("没有找到这条学习记录")
    user, unit_path = row
    if actor.user_id != user_id and not manages_unit(actor, unit_path):
        raise Forbidden("您无权查看此人的学习记录")
    progress = await db.get(WatchProgress, (user_id, lecture_id))
    sessions = list((await db.exec(select(ViewingSession).where(
        ViewingSession.user_id == user_id, ViewingSession.lecture_id == lecture_id)
        .order_by(col(ViewingSession.opened_at)))).all())
    heartbeats: list[Heartbeat] = []
    if with_heartbeats and sessions:
        heartbeats = list((await db.exec(select(Heartbeat).where(
            col(Heartbeat.session_id).in_([s.id for s in sessions]))
            .order_by(col(Heartbeat.received_at), col(Heartbeat.seq)))).all())
    return AttendanceRecord(lecture, user, progress, sessions, heartbeats)


@dataclass
class LearningRow:
    lecture: Lecture
    progress: WatchProgress

    @property
    def coverage(self) -> float:
        return coverage(self.progress.watched_s, self.progress.duration_s)


async def my_learning(db: AsyncSession, *, user_id: int, page: int, per_page: int = 20) -> Page:
    """Lectures this person started (newest activity first), with totals and their offline check-ins."""
    where = (WatchProgress.user_id == user_id,)
    started, completed, watched_total = (await db.exec(select(
        func.count(), func.count(col(WatchProgress.completed_at)),
        func.coalesce(func.sum(WatchProgress.watched_s), 0.0)).where(*where))).one()
    rows = (await db.exec(select(WatchProgress, Lecture).join(Lecture, col(Lecture.id) == WatchProgress.lecture_id)
                          .where(*where).order_by(col(WatchProgress.updated_at).desc(), col(Lecture.id))
                          .offset(offset_of(page, per_page)).limit(per_page))).all()
    checkins = (await db.exec(select(CheckIn, Lecture).join(Lecture, col(Lecture.id) == CheckIn.lecture_id)
                              .where(CheckIn.user_id == user_id).order_by(col(CheckIn.at).desc())
                              .limit(100))).all()
    return Page([LearningRow(lecture, progress) for progress, lecture in rows], page, per_page, started, extra={
        "started": started, "completed": completed, "watched_s": float(watched_total),
        "checkins": [{"lecture": lecture, "checkin": c} for c, lecture in checkins],
    })
