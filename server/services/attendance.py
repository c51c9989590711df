"""Viewing sessions: opening one (crediting its heartbeats is server.services.heartbeat, the hot path).

Opening a session takes a lock on the person's row and closes their other open sessions, so at most
one session per person is open, and therefore only that session writes the person's progress.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select

from server.db import transaction
from server.errors import Conflict
from server.models.attendance import ViewingSession, WatchProgress
from server.models.base import utcnow
from server.models.catalogue import LectureKind
from server.models.media import Media
from server.models.people import User
from server.permissions import Actor
from server.runtime import Runtime
from server.security import new_token, token_digest
from server.services import study_state
from server.services.catalogue import visible_lecture

HEARTBEAT_INTERVAL_S = 10
RESUME_MIN_S = 5


@dataclass(frozen=True)
class OpenedSession:
    session_id: str
    token: str
    heartbeat_interval_s: int
    resume_position_s: float
    duration_s: float


async def open_session(runtime: Runtime, *, actor: Actor, lecture_id: int) -> OpenedSession:
    """Start crediting this person's viewing of a lecture; any other open session of theirs is superseded."""
    async with transaction(runtime.sessions) as db:
        lecture, _ = await visible_lecture(db, lecture_id, actor)
        media = await db.get(Media, lecture.current_media_id) if lecture.current_media_id else None
        if lecture.kind != LectureKind.online or media is None or not media.playable or not media.duration_s:
            raise Conflict("视频尚未就绪，暂时无法记录学习", code="media_not_ready")
        unit_id = (await db.exec(select(User.unit_id).where(User.id == actor.user_id).with_for_update())).one()
        await db.exec(update(ViewingSession)
                      .where(col(ViewingSession.user_id) == actor.user_id, col(ViewingSession.closed_at).is_(None))
                      .values(closed_at=utcnow(), close_reason="superseded"))
        token = new_token()
        session = ViewingSession(user_id=actor.user_id, lecture_id=lecture_id, token_hash=token_digest(token))
        db.add(session)
        await db.exec(pg_insert(WatchProgress).values(
            user_id=actor.user_id, lecture_id=lecture_id, unit_id=unit_id, spans=[], duration_s=media.duration_s,
            started_at=utcnow(), updated_at=utcnow()).on_conflict_do_nothing())
        progress = (await db.exec(select(WatchProgress).where(
            WatchProgress.user_id == actor.user_id, WatchProgress.lecture_id == lecture_id))).one()
        await db.flush()
    study_state.forget(runtime, actor.user_id)
    resume = progress.last_position_s
    if resume < RESUME_MIN_S or resume > media.duration_s - RESUME_MIN_S:
        resume = 0.0
    return OpenedSession(session.id, token, HEARTBEAT_INTERVAL_S, round(resume, 1), media.duration_s)
