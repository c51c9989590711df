"""Crediting one heartbeat — the hottest path of the platform (every viewer, every ~10 s).

One database round trip per heartbeat in the steady state. The process keeps, per viewing session, what
it last read or wrote (cursor, rate-limit bucket, merged spans, the lecture's credit policy). The pure
credit rules (server.rules.credit) decide from that state, and a single autocommit statement then
writes the session cursor, the heartbeat row and the merged progress together, guarded by a
compare-and-set on everything the decision relied on: the session's last sequence number, bucket time,
open state and opening time, the lecture's policy and media duration, and the progress total. If any of
it changed (another server process took a heartbeat of this session, the session was superseded, an
admin edited the lecture) nothing is written, the state is read afresh and the heartbeat judged again.
So the cache only saves a read; it never decides on stale data.

Statements go through psycopg directly (prepared, autocommit, no ORM) on server.db.DirectPool connections.
Opening a session (server.services.attendance) locks the person's row, so at most one session per person
is open, and therefore only that session writes the person's progress.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from server.db import direct_pool
from server.errors import Conflict, Forbidden, NotFound, TooManyRequests
from server.rules.credit import Beat, Cursor, Policy, Span, add_span, admit, coverage, is_completed, judge, total
from server.runtime import Runtime
from server.security import token_digest
from server.services import study_state

MAX_CACHED_SESSIONS = 50_000
ATTEMPTS = 5


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


@dataclass(frozen=True)
class State:
    """An open session as of the last read or write, with the database clock mapped onto ours."""

    user_id: int
    token_hash: str
    cursor: Cursor
    tokens: float
    bucket_at: datetime
    bucket_mono: float    # time.monotonic() matching bucket_at
    opened_at: datetime
    opened_mono: float    # time.monotonic() matching opened_at
    policy: Policy
    completion_ratio: float
    spans: list[Span]
    watched: float
    completed: bool


_states: OrderedDict[str, State] = OrderedDict()

_READ = """
SELECT vs.user_id, vs.token_hash, vs.closed_at IS NOT NULL, vs.close_reason,
       vs.last_seq, vs.last_client_ms, vs.last_position_s, vs.last_rate, vs.last_playing,
       vs.bucket_tokens, vs.bucket_at, EXTRACT(EPOCH FROM now() - vs.bucket_at)::float8,
       vs.opened_at, EXTRACT(EPOCH FROM now() - vs.opened_at)::float8,
       l.max_rate, l.credit_hidden, l.completion_ratio, COALESCE(m.duration_s, 0)::float8,
       wp.spans, COALESCE(wp.watched_s, 0)::float8, wp.completed_at IS NOT NULL,
       (SELECT COALESCE(hb.anomaly, '') FROM heartbeat hb WHERE hb.session_id = vs.id AND hb.seq = %(seq)s)
FROM viewing_session vs
JOIN lecture l ON l.id = vs.lecture_id
LEFT JOIN media m ON m.id = l.current_media_id
LEFT JOIN watch_progress wp ON wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id
WHERE vs.id = %(sid)s
"""

# Data-modifying CTEs all run; the session update is the guard the other two hang on (FROM vs).
_WRITE = """
WITH vs AS (
  UPDATE viewing_session s SET last_seq = %(cseq)s, last_client_ms = %(cms)s, last_position_s = %(cpos)s,
         last_rate = %(crate)s, last_playing = %(cplaying)s, last_heartbeat_at = now(),
         credited_s = credited_s + %(credit)s, anomalies = anomalies + %(anom)s,
         bucket_tokens = %(tokens)s, bucket_at = now()
  WHERE s.id = %(sid)s AND s.last_seq = %(expect)s AND s.bucket_at = %(bucket_at)s
    AND s.opened_at = %(opened_at)s AND s.closed_at IS NULL
    AND EXISTS (SELECT 1 FROM lecture l LEFT JOIN media m ON m.id = l.current_media_id
                WHERE l.id = s.lecture_id AND l.max_rate = %(max_rate)s AND l.credit_hidden = %(hidden)s
                  AND l.completion_ratio = %(ratio)s AND COALESCE(m.duration_s, 0) = %(duration)s)
    AND EXISTS (SELECT 1 FROM watch_progress p WHERE p.user_id = s.user_id AND p.lecture_id = s.lecture_id
                  AND p.watched_s = %(prev_watched)s AND (p.completed_at IS NOT NULL) = %(prev_completed)s)
  RETURNING s.user_id, s.lecture_id, s.bucket_at
), hb AS (
  INSERT INTO heartbeat (session_id, seq, received_at, position_s, rate, paused, visible, event, client_ms,
                         credited_from_s, credited_to_s, anomaly)
  SELECT %(sid)s, %(seq)s, now(), %(pos)s::float8, %(rate)s::float8, %(paused)s::bool, %(visible)s::bool,
         %(event)s::varchar, %(ms)s::int, %(cfrom)s::float8, %(cto)s::float8, %(anomaly)s::varchar FROM vs
), wp AS (
  UPDATE watch_progress p SET
    spans = CASE WHEN %(credited)s THEN %(spans)s::jsonb ELSE p.spans END,
    watched_s = %(watched)s, duration_s = %(duration)s,
    last_position_s = CASE WHEN %(accepted)s THEN %(cpos)s ELSE p.last_position_s END,
    anomalies = p.anomalies + %(anom)s, updated_at = now(),
    completed_at = COALESCE(p.completed_at, CASE WHEN %(completed)s THEN now() END)
  FROM vs WHERE p.user_id = vs.user_id AND p.lecture_id = vs.lecture_id
)
SELECT bucket_at FROM vs
"""

_CLOSED_ANOMALY = """
WITH vs AS (UPDATE viewing_session SET anomalies = anomalies + 1 WHERE id = %(sid)s RETURNING user_id, lecture_id)
UPDATE watch_progress wp SET anomalies = wp.anomalies + 1 FROM vs
WHERE wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id
"""


async def record_heartbeat(runtime: Runtime, *, session_id: str, beat_in: BeatIn) -> BeatOutcome:
    """Credit one heartbeat. Raises NotFound, Forbidden, Conflict (closed) or TooManyRequests."""
    key = session_id  # a random UUID: unique across databases too
    async with direct_pool(runtime.engine).connection() as conn:
        for _ in range(ATTEMPTS):
            state = _states.get(key)
            if state is None or beat_in.beat.seq <= state.cursor.seq:
                # Unknown here, or a replay/out-of-order beat: only the database knows about earlier rows.
                outcome, state = await _read(conn, session_id, beat_in)
                if outcome is not None:
                    return outcome
                assert state is not None
            elif not hmac.compare_digest(state.token_hash, token_digest(beat_in.token)):
                raise Forbidden("观看凭证无效", code="bad_token")
            try:
                outcome, fresh = await _credit(conn, session_id, state, beat_in.beat)
            except UniqueViolation:
                _states.pop(key, None)
                continue  # the same seq arrived twice at once: the re-read answers it as a duplicate
            if outcome is not None:
                _remember(key, fresh)
                study_state.forget(state.user_id)
                return outcome
            _states.pop(key, None)  # something it relied on changed: read again and judge again
        raise TooManyRequests("心跳冲突，请稍后重发")


async def _read(conn: AsyncConnection[Any], session_id: str,
                beat_in: BeatIn) -> tuple[BeatOutcome | None, State | None]:
    """The session from the database: (an immediate answer, None) or (None, state to judge against)."""
    params = {"sid": session_id, "seq": beat_in.beat.seq}
    row = await (await conn.execute(_READ, params, prepare=True)).fetchone()
    now = time.monotonic()
    if row is None:
        raise NotFound("观看记录不存在", code="unknown_session")
    (user_id, token_hash, closed, close_reason, last_seq, last_ms, last_pos, last_rate, last_playing, tokens, bucket_at,
     idle_s, opened_at, open_s, max_rate, credit_hidden, ratio, duration, spans, watched, completed,
     duplicate) = row
    if not hmac.compare_digest(token_hash, token_digest(beat_in.token)):
        raise Forbidden("观看凭证无效", code="bad_token")
    if duplicate is not None:
        return BeatOutcome(duplicate == "", True, watched, coverage(watched, duration), completed), None
    if closed:
        await conn.execute(_CLOSED_ANOMALY, params, prepare=True)
        code = "superseded" if close_reason == "superseded" else "session_closed"
        raise Conflict("已在其他页面或设备播放，本页暂停计时", code=code)
    return None, State(
        user_id=user_id, token_hash=token_hash, cursor=Cursor(last_seq, last_ms, last_pos, last_rate, last_playing),
        tokens=tokens, bucket_at=bucket_at, bucket_mono=now - idle_s, opened_at=opened_at,
        opened_mono=now - open_s, policy=Policy(duration, max_rate, credit_hidden), completion_ratio=ratio,
        spans=[(float(a), float(b)) for a, b in (spans or [])], watched=watched, completed=completed)


async def _credit(conn: AsyncConnection[Any], session_id: str, state: State,
                  beat: Beat) -> tuple[BeatOutcome | None, State]:
    """Judge ``beat`` against ``state`` and write the result; (None, state) if the guard did not hold."""
    now = time.monotonic()
    allowed, tokens = admit(state.tokens, now - state.bucket_mono)
    if not allowed:
        raise TooManyRequests("心跳过于频繁，请稍后重发")
    verdict = judge(state.cursor, beat, state.policy, server_elapsed_ms=(now - state.opened_mono) * 1000)
    spans, watched = state.spans, state.watched
    if verdict.span:
        spans = add_span(spans, verdict.span, state.policy.duration_s)
        watched = total(spans)
    done = state.completed or is_completed(watched, state.policy.duration_s, state.completion_ratio)
    c = verdict.cursor
    row = await (await conn.execute(_WRITE, {
        "sid": session_id, "seq": beat.seq, "expect": state.cursor.seq, "bucket_at": state.bucket_at,
        "opened_at": state.opened_at, "max_rate": state.policy.max_rate, "hidden": state.policy.credit_hidden,
        "ratio": state.completion_ratio, "duration": state.policy.duration_s, "prev_watched": state.watched,
        "prev_completed": state.completed,
        "cseq": c.seq, "cms": c.client_ms, "cpos": c.position_s, "crate": c.rate, "cplaying": c.playing,
        "credit": verdict.credit_s, "anom": 1 if verdict.anomaly else 0, "tokens": tokens,
        "pos": beat.position_s, "rate": beat.rate, "paused": beat.paused, "visible": beat.visible,
        "event": beat.event, "ms": beat.client_ms, "cfrom": verdict.span[0] if verdict.span else None,
        "cto": verdict.span[1] if verdict.span else None, "anomaly": verdict.anomaly,
        "credited": verdict.span is not None, "spans": json.dumps([list(s) for s in spans]),
        "watched": watched, "accepted": verdict.accepted, "completed": done,
    }, prepare=True)).fetchone()
    if row is None:
        return None, state
    fresh = replace(state, cursor=c, tokens=tokens, bucket_at=row[0], bucket_mono=time.monotonic(),
                    spans=spans, watched=watched, completed=done)
    return BeatOutcome(verdict.accepted, False, watched, coverage(watched, state.policy.duration_s), done), fresh


def _remember(key: str, state: State) -> None:
    _states[key] = state
    _states.move_to_end(key)
    if len(_states) > MAX_CACHED_SESSIONS:
        _states.popitem(last=False)
