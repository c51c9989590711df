"""Group commit of heartbeats: many viewers' writes share statements, and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from server.db import direct_pool
from server.models.people import Role
from server.rules.credit import merge
from server.runtime import Runtime
from server.services import heartbeat_writes
from server.services.heartbeat_writes import BATCH_ROWS, HeartbeatWriter, Queued, Write, batch_params, take_batch
from tests.factories import make_user, sign_in
from tests.server.attendance_fixtures import backdate, beat, online_lecture, open_session, progress_of, send


def _queue(*people: int) -> deque[Queued]:
    return deque((p, _write(f"s{i}"), lambda _: None, asyncio.Future()) for i, p in enumerate(people))


def _write(sid: str, **values: Any) -> Write:
    return Write(**({name: None for name in Write._fields} | {"sid": sid} | values))


async def test_a_batch_holds_one_row_per_person_and_the_rest_keep_their_order() -> None:
    queue = _queue(1, 2, 1, 3, 2, 1)
    first = take_batch(queue, 10)
    assert [(p, w.sid) for p, w, *_ in first] == [(1, "s0"), (2, "s1"), (3, "s3")]
    assert [(p, w.sid) for p, w, *_ in queue] == [(1, "s2"), (2, "s4"), (1, "s5")]
    assert [p for p, *_ in take_batch(queue, 10)] == [1, 2]
    assert [p for p, *_ in take_batch(queue, 10)] == [1]
    limited = _queue(1, 2, 3)
    assert [p for p, *_ in take_batch(limited, 2)] == [1, 2] and len(limited) == 1


async def test_batch_values_reach_postgresql_exactly(runtime: Runtime) -> None:
    """The guard compares floats and times for equality, so the batch must not round them."""
    at = datetime(2026, 11, 25, 6, 30, 1, 123457, tzinfo=UTC)
    first = _write("s", seq=7, bucket_at=at, prev_watched=0.1 + 0.2, watched=1 / 3, tokens=19.000000000000004,
                   spans="[[0.0, 0.3333333333333333]]", hidden=False)
    second = _write("t", seq=2**31 - 1, bucket_at=at, watched=1e-300)  # NULLs and extremes beside them
    async with direct_pool(runtime.engine).connection() as conn:
        query = f"SELECT sid, seq, bucket_at, prev_watched, watched, tokens, spans, hidden FROM {BATCH_ROWS}"  # noqa: S608
        got = await (await conn.execute(query, batch_params([first, second]))).fetchall()
    assert got == [("s", 7, at, 0.1 + 0.2, 1 / 3, 19.000000000000004, [[0.0, 1 / 3]], False),
                   ("t", 2**31 - 1, at, None, 1e-300, None, None, None)]


@pytest.fixture
def write_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the batches the writer sends (a spy on our own writer; PostgreSQL stays real)."""
    sizes: list[int] = []
    write = HeartbeatWriter._write

    async def spy(self: HeartbeatWriter, batch: list[Any]) -> None:
        sizes.append(len(batch))
        await write(self, batch)

    monkeypatch.setattr(HeartbeatWriter, "_write", spy)
    return sizes


async def test_concurrent_viewers_share_batches_and_each_is_credited_exactly(
        make_client: Callable[[], httpx.AsyncClient], runtime: Runtime, write_batches: list[int]) -> None:
    lecture = await online_lecture(runtime, duration_s=600)
    viewers = []
    for _ in range(24):
        client = make_client()
        user = await make_user(runtime, Role.worker)
        await sign_in(client, runtime, user)
        session = await open_session(client, lecture.id)
        await backdate(runtime, session["session_id"], 100)
        viewers.append((client, user, session))
    for seq in range(1, 5):
        replies = await asyncio.gather(*(send(c, s, beat(s, seq, (seq - 1) * 10, (seq - 1) * 10_000))
                                         for c, _, s in viewers))
        assert all(r.status_code == 200 and r.json()["accepted"] for r in replies)
    heartbeats = 4 * len(viewers)
    assert sum(write_batches) == heartbeats
    assert len(write_batches) < heartbeats / 2, write_batches  # rows arriving together were written together
    assert max(write_batches) <= heartbeat_writes.MAX_BATCH
    for _, user, _ in viewers:
        progress = await progress_of(runtime, user.id, lecture.id)
        assert progress.watched_s == 30 and progress.spans == [[0, 30]]


async def test_one_sessions_beats_sent_at_once_are_judged_in_turn(client: httpx.AsyncClient,
                                                                   runtime: Runtime) -> None:
    user = await make_user(runtime, Role.worker)
    await sign_in(client, runtime, user)
    lecture = await online_lecture(runtime, duration_s=600)
    session = await open_session(client, lecture.id)
    await backdate(runtime, session["session_id"], 100)
    assert (await send(client, session, beat(session, 1, 0, 0, event="play"))).json()["accepted"]
    bodies = [beat(session, 2, 10, 10_000), beat(session, 2, 10, 10_000), beat(session, 3, 20, 20_000),
              beat(session, 4, 30, 30_000)]
    replies = [r.json() for r in await asyncio.gather(*(send(client, session, b) for b in bodies))]
    assert sorted(r["duplicate"] for r in replies) == [False, False, False, True]
    progress = await progress_of(runtime, user.id, lecture.id)
    async with runtime.sessions() as db:
        spans = (await db.exec(text("SELECT credited_from_s, credited_to_s FROM heartbeat WHERE session_id = :s "
                                    "AND credited_from_s IS NOT NULL").bindparams(s=session["session_id"]))).all()
    assert progress.watched_s == sum(b - a for a, b in merge([(a, b) for a, b in spans])) == 30
