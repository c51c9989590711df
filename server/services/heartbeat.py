"""Crediting one heartbeat — the hottest path of the platform (every viewer, every ~10 s).

No read in the steady state, and the write shares its round trip and commit with other viewers'
heartbeats (server.services.heartbeat_writes). The process keeps, per viewing session, what it last
read or wrote (cursor, rate-limit bucket, merged spans, the lecture's credit policy). The pure credit
rules (server.rules.credit) decide from that state, and one write then stores the session cursor, the
heartbeat row and the merged progress together, guarded by a
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

import asyncio
import hmac
import json
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, NamedTuple

from psycopg import AsyncConnection

from server.db import direct_pool
from server.errors import Conflict, Forbidden, NotFound, TooManyRequests
from server.rules.credit import Beat, Cursor, Policy, Span, add_span, admit, coverage, is_completed, judge, total
from server.runtime import Runtime
from server.security import token_digest
from server.services import study_state
from server.services.heartbeat_writes import Write, writer_for

MAX_CACHED_SESSIONS = 50_000
ATTEMPTS = 5


class BeatIn(NamedTuple):
    token: str
    beat: Beat


class BeatOutcome(NamedTuple):
    accepted: bool
    duplicate: bool
    watched_s: float
    coverage: float
    completed: bool


class State(NamedTuple):
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
_pending: dict[str, asyncio.Future[datetime | None]] = {}  # session id -> its write in flight here

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

_CLOSED_ANOMALY = """
WITH vs AS (UPDATE viewing_session SET anomalies = anomalies + 1 WHERE id = %(sid)s RETURNING user_id, lecture_id)
UPDATE watch_progress wp SET anomalies = wp.anomalies + 1 FROM vs
WHERE wp.user_id = vs.user_id AND wp.lecture_id = vs.lecture_id
"""


async def record_heartbeat(runtime: Runtime, *, session_id: str, beat_in: BeatIn) -> BeatOutcome:
    """Credit one heartbeat. Raises NotFound, Forbidden, Conflict (closed) or TooManyRequests."""
    key = session_id  # a random UUID: unique across databases too
    pool = direct_pool(runtime.engine)
    for _ in range(ATTEMPTS):
        while (pending := _pending.get(key)) is not None:
            await asyncio.wait([pending])  # this session's previous heartbeat is still being written
        state = _states.get(key)
        if state is None or beat_in.beat.seq <= state.cursor.seq:
            # Unknown here, or a replay/out-of-order beat: only the database knows about earlier rows.
            async with pool.connection() as conn:
                outcome, state = await _read(conn, session_id, beat_in)
            if outcome is not None:
                return outcome
            assert state is not None
            if key in _pending:
                continue  # another heartbeat of this session got in while we read: judge after it
        elif not hmac.compare_digest(state.token_hash, token_digest(beat_in.token)):
            raise Forbidden("观看凭证无效", code="bad_token")
        outcome = await _credit(runtime, session_id, state, beat_in.beat)
        if outcome is not None:
            return outcome
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


async def _credit(runtime: Runtime, session_id: str, state: State, beat: Beat) -> BeatOutcome | None:
    """Judge ``beat`` against ``state`` and write the result; None if the guard did not hold.

    From judging to queueing the write nothing awaits, and the session stays marked pending until the
    write is done, so this process never judges two heartbeats of one session against the same state.
    The writer updates the cache (``settle``) before any waiting heartbeat resumes."""
    now = time.monotonic()
    allowed, tokens = admit(state.tokens, now - state.bucket_mono)
    if not allowed:
        raise TooManyRequests("心跳过于频繁，请稍后重发")
    verdict = judge(state.cursor, beat, state.policy, server_elapsed_ms=(now - state.opened_mono) * 1000)
    span = verdict.span
    spans, watched = state.spans, state.watched
    if span:
        spans = add_span(spans, span, state.policy.duration_s)
        watched = total(spans)
    done = state.completed or is_completed(watched, state.policy.duration_s, state.completion_ratio)
    c = verdict.cursor

    def settle(bucket_at: datetime | None) -> None:  # called by the writer, before ``written`` resolves
        if _pending.get(session_id) is written:
            del _pending[session_id]
        if bucket_at is None:
            _states.pop(session_id, None)  # not written: read afresh and judge again
            return
        _remember(session_id, state._replace(cursor=c, tokens=tokens, bucket_at=bucket_at,
                                             bucket_mono=time.monotonic(), spans=spans, watched=watched,
                                             completed=done))
        study_state.forget(runtime, state.user_id)

    written = writer_for(direct_pool(runtime.engine)).submit(state.user_id, Write(
        sid=session_id, seq=beat.seq, expect=state.cursor.seq, bucket_at=state.bucket_at, opened_at=state.opened_at,
        max_rate=state.policy.max_rate, hidden=state.policy.credit_hidden, ratio=state.completion_ratio,
        duration=state.policy.duration_s, prev_watched=state.watched, prev_completed=state.completed,
        cseq=c.seq, cms=c.client_ms, cpos=c.position_s, crate=c.rate, cplaying=c.playing,
        credit=verdict.credit_s, anom=1 if verdict.anomaly else 0, tokens=tokens,
        pos=beat.position_s, rate=beat.rate, paused=beat.paused, visible=beat.visible, event=beat.event,
        ms=beat.client_ms, cfrom=span[0] if span else None, cto=span[1] if span else None, anomaly=verdict.anomaly,
        spans=json.dumps(spans) if span else None, watched=watched, accepted=verdict.accepted, completed=done),
        settle)

    _pending[session_id] = written
    # Shielded: a caller that goes away must not cancel the write, which later heartbeats of this session
    # wait for (above) and which other rows of its batch share.
    if await asyncio.shield(written) is None:
        return None
    return BeatOutcome(verdict.accepted, False, watched, coverage(watched, state.policy.duration_s), done)


def _remember(key: str, state: State) -> None:
    _states[key] = state
    _states.move_to_end(key)
    if len(_states) > MAX_CACHED_SESSIONS:
        _states.popitem(last=False)
