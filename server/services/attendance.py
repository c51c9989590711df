"""Viewing sessions and heartbeats: opening a session, and crediting each heartbeat.

The heartbeat path is hot (every viewer, every ~10 s), so it avoids the ORM: one read of the session
joined with its lecture, media and progress, then one statement that writes the heartbeat, the session
cursor and the merged progress together — guarded by compare-and-set on the session's last sequence
number and open state, in autocommit mode (no BEGIN/COMMIT round trips). Opening a session takes a
lock on the person's row, so at most one session per person is open, and therefore only that session
writes the person's progress.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from server.db import transaction
from server.errors import Conflict, Forbidden, NotFound, TooManyRequests
from server.models.attendance import ViewingSession, WatchProgress
from server.models.base import utcnow
from server.models.catalogue import LectureKind
from server.models.media import Media
from server.models.people import User
from server.permissions import Actor
from server.rules.credit import Beat, Cursor, Policy, add_span, admit, coverage, is_completed, judge, total
from server.runtime import Runtime
from server.security import new_token, token_digest
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


@dataclass(frozen=True)
class BeatIn:
    token: str
    beat: Beat


@dataclass(frozen=True)
class BeatOutcome:
    accepted: bool
    duplicate: bool
    watched_s: float
    coverage: float
    completed: bool


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
    resume = progress.last_position_s
    if resume < RESUME_MIN_S or resume > media.duration_s - RESUME_MIN_S:
        resume = 0.0
    return OpenedSession(session.id, token, HEARTBEAT_INTERVAL_S, round(resume, 1), media.duration_s)


_READ = """
SELECT vs.token_hash, vs.closed_at IS NOT NULL, vs.close_reason,
       vs.last_seq, vs.last_client_ms, vs.last_position_s, vs.last_rate, vs.last_playing,
       vs.bucket_tokens, EXTRACT(EPOCH FROM now() - vs.bucket_at)::float8,
       (EXTRACT(EPOCH FROM now() - vs.opened_at) * 1000)::float8,
       l.max_rate, l.credit_hidden, l.completion_ratio, COALESCE(m.duration_s, 0),
       wp.spans, COALESCE(wp.watched_s, 0), wp.completed_at IS NOT NULL,
       (SELECT COALESCE(hb.anomaly, '') FROM heartbeat hb WHERE hb.session_id = vs.id AND hb.seq = %(seq)s)
FROM viewing_session vs
JOIN lecture l ON l.id = vs.lecture_id
LEFT JOIN media m ON m.id = l.current_media_id
LEFT JOIN watch_progress wp ON wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id
WHERE vs.id = %(sid)s
"""

_WRITE = """
WITH vs AS (
  UPDATE viewing_session SET last_seq = %(cseq)s, last_client_ms = %(cms)s, last_position_s = %(cpos)s,
         last_rate = %(crate)s, last_playing = %(cplaying)s, last_heartbeat_at = now(),
         credited_s = credited_s + %(credit)s, anomalies = anomalies + %(anom)s,
         bucket_tokens = %(tokens)s, bucket_at = now()
  WHERE id = %(sid)s AND last_seq = %(expect)s AND closed_at IS NULL
  RETURNING user_id, lecture_id
), hb AS (
  INSERT INTO heartbeat (session_id, seq, received_at, position_s, rate, paused, visible, event, client_ms,
                         credited_from_s, credited_to_s, anomaly)
  SELECT %(sid)s, %(seq)s, now(), %(pos)s::float8, %(rate)s::float8, %(paused)s::bool, %(visible)s::bool,
         %(event)s::varchar, %(ms)s::int, %(cfrom)s::float8, %(cto)s::float8, %(anomaly)s::varchar FROM vs
)
UPDATE watch_progress wp SET
  spans = CASE WHEN %(credited)s THEN %(spans)s::jsonb ELSE wp.spans END,
  watched_s = CASE WHEN %(credited)s THEN %(watched)s ELSE wp.watched_s END,
  duration_s = %(duration)s,
  last_position_s = CASE WHEN %(accepted)s THEN %(cpos)s ELSE wp.last_position_s END,
  anomalies = wp.anomalies + %(anom)s, updated_at = now(),
  completed_at = COALESCE(wp.completed_at, CASE WHEN %(completed)s THEN now() END)
FROM vs WHERE wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id
RETURNING 1
"""

_CLOSED_ANOMALY = """
WITH vs AS (UPDATE viewing_session SET anomalies = anomalies + 1 WHERE id = %(sid)s RETURNING user_id, lecture_id)
UPDATE watch_progress wp SET anomalies = wp.anomalies + 1 FROM vs
WHERE wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id
"""


async def record_heartbeat(runtime: Runtime, *, session_id: str, beat_in: BeatIn) -> BeatOutcome:
    """Credit one heartbeat. Raises NotFound, Forbidden, Conflict (closed) or TooManyRequests."""
    beat = beat_in.beat
    params: dict[str, Any] = {"sid": session_id, "seq": beat.seq}
    async with runtime.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for _ in range(5):
            row = (await conn.exec_driver_sql(_READ, params)).first()
            if row is None:
                raise NotFound("观看记录不存在", code="unknown_session")
            (token_hash, closed, close_reason, last_seq, last_ms, last_pos, last_rate, last_playing,
             tokens, idle_s, elapsed_ms, max_rate, credit_hidden, ratio, duration,
             spans, watched, completed, duplicate) = row
            if not hmac.compare_digest(token_hash, token_digest(beat_in.token)):
                raise Forbidden("观看凭证无效", code="bad_token")
            if duplicate is not None:
                return BeatOutcome(duplicate == "", True, watched, coverage(watched, duration), completed)
            if closed:
                await conn.exec_driver_sql(_CLOSED_ANOMALY, params)
                code = "superseded" if close_reason == "superseded" else "session_closed"
                raise Conflict("已在其他页面或设备播放，本页暂停计时", code=code)
            allowed, tokens = admit(tokens, idle_s)
            if not allowed:
                raise TooManyRequests("心跳过于频繁，请稍后重发")
            cursor = Cursor(last_seq, last_ms, last_pos, last_rate, last_playing)
            verdict = judge(cursor, beat, Policy(duration, max_rate, credit_hidden), server_elapsed_ms=elapsed_ms)
            merged = [tuple(s) for s in (spans or [])]
            if verdict.span:
                merged = add_span(merged, verdict.span, duration)
                watched = total(merged)
            done = completed or is_completed(watched, duration, ratio)
            c = verdict.cursor
            try:
                written = (await conn.exec_driver_sql(_WRITE, {
                    **params, "expect": last_seq, "cseq": c.seq, "cms": c.client_ms, "cpos": c.position_s,
                    "crate": c.rate, "cplaying": c.playing, "credit": verdict.credit_s,
                    "anom": 1 if verdict.anomaly else 0, "tokens": tokens, "pos": beat.position_s,
                    "rate": beat.rate, "paused": beat.paused, "visible": beat.visible, "event": beat.event,
                    "ms": beat.client_ms, "cfrom": verdict.span[0] if verdict.span else None,
                    "cto": verdict.span[1] if verdict.span else None, "anomaly": verdict.anomaly,
                    "credited": verdict.span is not None, "spans": json.dumps([list(s) for s in merged]),
                    "watched": watched, "duration": duration, "accepted": verdict.accepted, "completed": done,
                })).first()
            except IntegrityError as exc:
                if not isinstance(exc.orig, UniqueViolation):
                    raise
                continue  # the same seq arrived twice at once: the re-read answers it as a duplicate
            if written is not None:
                return BeatOutcome(verdict.accepted, False, watched, coverage(watched, duration), done)
        raise TooManyRequests("心跳冲突，请稍后重发")
