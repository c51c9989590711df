"""PostgreSQL drops every connection of the app (as on a restart) while viewers send heartbeats.

The app recovers by itself (pool pre-ping, no restart), every heartbeat a client retries lands once, and
each viewer's credited seconds equal what they really watched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from server.runtime import Runtime
from server.settings import Settings
from tests.factories import make_user, sign_in
from tests.faults.support import query
from tests.server.attendance_fixtures import backdate, beat, online_lecture, open_session, progress_of

VIEWERS = 8
WATCH_S = 300
EVERY_S = 10
OUTAGES = 3


async def _send_until_landed(client: httpx.AsyncClient, session: dict[str, Any], body: dict[str, Any],
                             failures: list[str]) -> None:
    """What the player does: resend the same sequence number until the server answers it."""
    with anyio.fail_after(30):
        while True:
            try:
                response = await client.post(f"/api/v1/viewing-sessions/{session['session_id']}/heartbeats",
                                             json=body)
            except Exception as exc:  # the app's 500 surfaces here through the ASGI transport
                failures.append(type(exc).__name__)
            else:
                if response.status_code == 200:
                    return
                failures.append(str(response.status_code))
            await anyio.sleep(0.05)


async def test_heartbeats_survive_connections_being_killed(settings: Settings, runtime: Runtime,
                                                           make_client: Callable[[], httpx.AsyncClient]) -> None:
    lecture = await online_lecture(runtime, duration_s=600)
    viewers = []
    for _ in range(VIEWERS):
        user = await make_user(runtime)
        client = await sign_in(make_client(), runtime, user)
        session = await open_session(client, lecture.id)
        await backdate(runtime, session["session_id"], WATCH_S + 60)
        viewers.append((user, client, session))
    failures: list[str] = []
    beats_sent = anyio.Event()
    sent = 0

    async def watch(client: httpx.AsyncClient, session: dict[str, Any]) -> None:
        nonlocal sent
        for seq, t in enumerate(range(0, WATCH_S + 1, EVERY_S), start=1):
            body = beat(session, seq, float(t), t * 1000, event="play" if t == 0 else "tick")
            await _send_until_landed(client, session, body, failures)
            sent += 1
            if sent >= VIEWERS * 3:
                beats_sent.set()
            await anyio.sleep(0.02)

    killed = 0

    async def kill_connections() -> None:
        nonlocal killed
        await beats_sent.wait()
        for _ in range(OUTAGES):
            killed += len(query(settings, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            await anyio.sleep(0.3)

    async with anyio.create_task_group() as tg:
        for _, client, session in viewers:
            tg.start_soon(watch, client, session)
        tg.start_soon(kill_connections)

    assert killed, "no app connection was killed"
    if not failures:
        pytest.fail("no heartbeat failed: the connections were not killed while in use")
    for user, _, session in viewers:
        progress = await progress_of(runtime, user.id or 0, lecture.id or 0)
        assert progress.watched_s == pytest.approx(WATCH_S), (user.id, progress.spans)
        ((credited, beats),) = query(settings, "SELECT vs.credited_s, count(hb.seq) FROM viewing_session vs "
                                     "JOIN heartbeat hb ON hb.session_id = vs.id WHERE vs.id = %s GROUP BY vs.id",
                                     session["session_id"])
        assert credited == pytest.approx(WATCH_S) and beats == WATCH_S // EVERY_S + 1
    _, client, _ = viewers[0]
    assert (await client.get("/readyz")).status_code == 200
