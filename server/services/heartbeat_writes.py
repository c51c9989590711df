"""Group commit of heartbeat writes: many viewers' heartbeats in one statement and one transaction.

Every viewer sends a heartbeat about every 10 s, so a busy server writes thousands a second. Written one
by one, each costs a round trip and a WAL flush, and the connection pool (not the CPU) caps throughput.
Here a request hands its judged write to the process's writer and waits; whatever arrived while the
previous batch was in flight goes out together as the next statement. Nothing is delayed on purpose: an
idle server writes a lone heartbeat at once, a busy one amortises the round trip and the commit over the
whole batch. A reply still leaves only after its heartbeat is committed. One batch at a time per
process (MAX_IN_FLIGHT): measured against two and three, the larger batches cost less per heartbeat on
both sides and gave the lower p99 (bench/heartbeats.py); a batch that stalls is cut off by the statement
timeout, and its callers read afresh and judge again (below).

The commit is asynchronous (``synchronous_commit=off`` on these connections): PostgreSQL answers
before the WAL reaches the disk, which it does within a fraction of a second. A crash of PostgreSQL
itself (not of a client, not a restart or a dropped connection) can therefore lose the last moments'
heartbeats although their senders were told they were accepted. That costs no credit for a viewer who
goes on watching: the next heartbeat is judged against the last stored one, and the span since then
is credited as a whole (server.rules.credit). Only a viewer who closed the page in that very moment
loses their last heartbeat's seconds. In exchange a batch costs no disk flush wait, so the same
number of viewers is served with a fraction of the latency. Data integrity is unaffected.

Each row keeps the single-row compare-and-set guard (server.services.heartbeat): a row whose guard
fails is simply not written and its caller re-reads and judges again. A batch holds at most one row per
person, so no two rows touch the same progress row. Whatever rolls the batch back as a whole (a lock
conflict with another server process, a duplicate (session, seq), a statement timeout, a broken
connection) sends its callers back to re-read and judge again, like any other guard failure.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg import errors

from server.db import DirectPool

MAX_BATCH = 500
MAX_IN_FLIGHT = 1


class Write(NamedTuple):
    """One judged heartbeat to store: the guard (what the judgement relied on) and what to write."""

    sid: str
    seq: int
    expect: int             # guard: the session's last sequence number
    bucket_at: datetime     # guard: the session's bucket time (also changes on every write)
    opened_at: datetime     # guard: the session was not superseded and reopened
    max_rate: float         # guard: the lecture's credit policy and media duration
    hidden: bool
    ratio: float
    duration: float
    prev_watched: float     # guard: the person's progress total
    prev_completed: bool
    cseq: int               # the new cursor
    cms: int
    cpos: float
    crate: float
    cplaying: bool
    credit: float
    anom: int
    tokens: float
    pos: float              # the heartbeat as received
    rate: float
    paused: bool
    visible: bool
    event: str
    ms: int
    cfrom: float | None
    cto: float | None
    anomaly: str | None
    spans: str | None       # the merged spans as JSON, if this heartbeat changed them
    watched: float
    accepted: bool
    completed: bool


# PostgreSQL type of each Write field, in order.
TYPES = ("varchar", "int", "int", "timestamptz", "timestamptz", "float8", "bool", "float8", "float8", "float8", "bool",
         "int", "int", "float8", "float8", "bool", "float8", "int", "float8",
         "float8", "float8", "bool", "bool", "varchar", "int", "float8", "float8", "varchar", "jsonb",
         "float8", "bool", "bool")

# The batch travels as one binary array per field (no per-row encoding on our side, no text parsing on
# PostgreSQL's); unnest turns them back into rows.
BATCH_ROWS = (f"unnest({', '.join(f'%({name})b::{kind}[]' for name, kind in zip(Write._fields, TYPES, strict=True))})"
              f" AS t({', '.join(Write._fields)})")

# Only constants are interpolated. Data-modifying CTEs all run; the session update is the guard, and the
# other two take their rows from what it returns (the incoming values come along in RETURNING), so each
# is a plain walk over the guarded rows whatever the planner guesses of the batch's size.
WRITE_BATCH = f"""
WITH i AS (
  SELECT * FROM {BATCH_ROWS}
), vs AS (
  UPDATE viewing_session s SET last_seq = i.cseq, last_client_ms = i.cms, last_position_s = i.cpos,
         last_rate = i.crate, last_playing = i.cplaying, last_heartbeat_at = now(),
         credited_s = s.credited_s + i.credit, anomalies = s.anomalies + i.anom,
         bucket_tokens = i.tokens, bucket_at = now()
  FROM i
  WHERE s.id = i.sid AND s.last_seq = i.expect AND s.bucket_at = i.bucket_at
    AND s.opened_at = i.opened_at AND s.closed_at IS NULL
    AND EXISTS (SELECT 1 FROM lecture l LEFT JOIN media m ON m.id = l.current_media_id
                WHERE l.id = s.lecture_id AND l.max_rate = i.max_rate AND l.credit_hidden = i.hidden
                  AND l.completion_ratio = i.ratio AND COALESCE(m.duration_s, 0) = i.duration)
    AND EXISTS (SELECT 1 FROM watch_progress p WHERE p.user_id = s.user_id AND p.lecture_id = s.lecture_id
                  AND p.watched_s = i.prev_watched AND (p.completed_at IS NOT NULL) = i.prev_completed)
  RETURNING s.id, s.user_id, s.lecture_id, s.bucket_at, i.seq, i.pos, i.rate, i.paused, i.visible, i.event, i.ms,
            i.cfrom, i.cto, i.anomaly, i.spans, i.watched, i.duration, i.accepted, i.cpos, i.anom, i.completed
), hb AS (
  INSERT INTO heartbeat (session_id, seq, received_at, position_s, rate, paused, visible, event, client_ms,
                         credited_from_s, credited_to_s, anomaly)
  SELECT id, seq, now(), pos, rate, paused, visible, event, ms, cfrom, cto, anomaly FROM vs
), wp AS (
  UPDATE watch_progress p SET
    spans = COALESCE(vs.spans, p.spans),
    watched_s = vs.watched, duration_s = vs.duration,
    last_position_s = CASE WHEN vs.accepted THEN vs.cpos ELSE p.last_position_s END,
    anomalies = p.anomalies + vs.anom, updated_at = now(),
    completed_at = COALESCE(p.completed_at, CASE WHEN vs.completed THEN now() END)
  FROM vs
  WHERE p.user_id = vs.user_id AND p.lecture_id = vs.lecture_id
)
SELECT id, bucket_at FROM vs
"""  # noqa: S608 - interpolates only constants

# The batch was rolled back as a whole (another process held or wanted the same rows, the statement timed
# out, the connection broke): its callers read afresh and judge again, which the guard makes safe. A
# database that stays unreachable fails their reads in turn.
RETRYABLE = (psycopg.OperationalError, errors.UniqueViolation)

# Told the outcome of one write (the session's new bucket time, or None: not written) before its caller resumes.
Settle = Callable[[datetime | None], None]
# (person, the write, told the outcome, its caller's future)
Queued = tuple[int, Write, Settle, asyncio.Future[datetime | None]]


def batch_params(writes: list[Write]) -> dict[str, list[Any]]:
    """WRITE_BATCH's parameters: one list per field. Binary, so floats and times arrive exactly, which the
    guard compares for equality."""
    return dict(zip(Write._fields, map(list, zip(*writes, strict=True)), strict=True))


def take_batch(queue: deque[Queued], limit: int) -> list[Queued]:
    """Up to ``limit`` queued rows, at most one per person; the others keep their place in the queue."""
    batch: list[Queued] = []
    people: set[int] = set()
    deferred = []
    while queue and len(batch) < limit:
        item = queue.popleft()
        if item[0] in people:
            deferred.append(item)
        else:
            people.add(item[0])
            batch.append(item)
    queue.extendleft(reversed(deferred))
    return batch


class HeartbeatWriter:
    """One per connection pool (so per database and event loop)."""

    def __init__(self, pool: DirectPool) -> None:
        self._pool = pool
        self._queue: deque[Queued] = deque()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, user_id: int, write: Write, settle: Settle) -> asyncio.Future[datetime | None]:
        """Queue one guarded write. ``settle`` and then the future get the session's new bucket time once
        committed, or None if the guard did not hold (nothing written). Await the future shielded: a caller
        that goes away must not cancel a write that other rows of its batch share."""
        future: asyncio.Future[datetime | None] = asyncio.get_running_loop().create_future()
        self._queue.append((user_id, write, settle, future))
        if self._in_flight < MAX_IN_FLIGHT:
            self._in_flight += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return future

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._write(take_batch(self._queue, MAX_BATCH))
        finally:
            self._in_flight -= 1

    async def _write(self, batch: list[Queued]) -> None:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(WRITE_BATCH, batch_params([write for _, write, _, _ in batch]),
                                           prepare=True)
                written = dict(await cursor.fetchall())
        except RETRYABLE:
            written = {}
        except Exception as exc:  # a bug of ours, not the database's state: every caller gets the error
            for _, _, settle, future in batch:
                settle(None)
                if not future.done():
                    future.set_exception(exc)
            return
        for _, write, settle, future in batch:
            outcome = written.get(write.sid)
            settle(outcome)
            if not future.done():
                future.set_result(outcome)


_writers: weakref.WeakKeyDictionary[DirectPool, HeartbeatWriter] = weakref.WeakKeyDictionary()


def writer_for(pool: DirectPool) -> HeartbeatWriter:
    writer = _writers.get(pool)
    if writer is None:
        writer = _writers[pool] = HeartbeatWriter(pool)
    return writer
