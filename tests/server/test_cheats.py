"""Simulated cheats against the real endpoint: each must earn zero extra credit."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in
from tests.server.attendance_fixtures import (
    backdate,
    beat,
    online_lecture,
    open_session,
    play,
    progress_of,
    send,
)


async def _watcher(client: httpx.AsyncClient, runtime: Runtime, *, opened_s_ago: float = 600):
    user = await make_user(runtime, Role.worker)
    await sign_in(client, runtime, user)
    lecture = await online_lecture(runtime, duration_s=600)
    session = await open_session(client, lecture.id)
    await backdate(runtime, session["session_id"], opened_s_ago)
    return user, lecture, session


async def test_jumping_position_forward(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user, lecture, session = await _watcher(client, runtime)
    seq = await play(client, session, start_s=0, seconds=20)
    # No seek event, just a position far ahead of what 10 s of playing allows.
    await send(client, session, beat(session, seq, 300, 30_000))
    await send(client, session, beat(session, seq + 1, 310, 40_000))
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.spans == [[0, 20], [300, 310]]
    assert progress.anomalies == 1


async def test_claiming_sixteen_times_rate(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user, lecture, session = await _watcher(client, runtime)
    await play(client, session, start_s=0, seconds=30, rate=16.0)
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.watched_s == 0 and progress.anomalies == 3


async def test_two_tabs_only_the_newest_is_credited(client: httpx.AsyncClient,
                                                     make_client: Callable[[], httpx.AsyncClient],
                                                     runtime: Runtime) -> None:
    user, lecture, first = await _watcher(client, runtime)
    second_tab = await sign_in(make_client(), runtime, user)
    second = await open_session(second_tab, lecture.id)
    await backdate(runtime, second["session_id"], 600)
    await play(second_tab, second, start_s=0, seconds=20)
    refused = await send(client, first, beat(first, 1, 100, 10_000, event="play"))
    assert refused.status_code == 409 and refused.json()["code"] == "superseded"
    assert (await send(client, first, beat(first, 2, 110, 20_000))).status_code == 409
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.spans == [[0, 20]] and progress.anomalies == 2


async def test_replaying_old_heartbeats(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user, lecture, session = await _watcher(client, runtime)
    seq = await play(client, session, start_s=0, seconds=30)
    for n in range(1, seq):  # exact replays, then the same numbers with invented positions
        assert (await send(client, session, beat(session, n, (n - 1) * 10, (n - 1) * 10_000))).json()["duplicate"]
        assert (await send(client, session, beat(session, n, 200 + n * 10, n * 10_000))).json()["duplicate"]
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.spans == [[0, 30]] and progress.watched_s == 30


async def test_another_users_session_with_own_token(client: httpx.AsyncClient,
                                                     make_client: Callable[[], httpx.AsyncClient],
                                                     runtime: Runtime) -> None:
    victim, lecture, victim_session = await _watcher(client, runtime)
    mallory_client = make_client()
    mallory = await make_user(runtime, Role.worker)
    await sign_in(mallory_client, runtime, mallory)
    own = await open_session(mallory_client, lecture.id)
    forged = {**own, "session_id": victim_session["session_id"]}
    for n, pos in enumerate([0, 10, 20], start=1):
        response = await send(mallory_client, forged, beat(own, n, pos, n * 10_000))
        assert response.status_code == 403
    assert (await progress_of(runtime, victim.id, lecture.id)).watched_s == 0
    assert (await progress_of(runtime, mallory.id, lecture.id)).watched_s == 0


async def test_heartbeats_after_the_session_closed(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user, lecture, session = await _watcher(client, runtime)
    seq = await play(client, session, start_s=0, seconds=10)
    other_lecture = await online_lecture(runtime)
    await open_session(client, other_lecture.id)  # any other session closes this one
    late = await send(client, session, beat(session, seq, 20, 20_000))
    assert late.status_code == 409
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.watched_s == 10 and progress.anomalies == 1


async def test_client_clock_faster_than_real_time(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user, lecture, session = await _watcher(client, runtime, opened_s_ago=10)
    # Only ~10 s really passed, but the client claims a minute of playing.
    await send(client, session, beat(session, 1, 0, 0, event="play"))
    await send(client, session, beat(session, 2, 60, 60_000))
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.watched_s == 0 and progress.anomalies == 1
