from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlmodel import col, select

from server.models.attendance import Heartbeat
from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_unit, make_user, sign_in
from tests.server.attendance_fixtures import (
    backdate,
    beat,
    online_lecture,
    open_session,
    play,
    progress_of,
    send,
)


async def test_honest_viewing_is_credited_and_completes(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime, Role.worker)
    await sign_in(client, runtime, user)
    lecture = await online_lecture(runtime, duration_s=60)
    session = await open_session(client, lecture.id)
    assert session["heartbeat_interval_s"] == 10 and session["duration_s"] == 60
    assert session["resume_position_s"] == 0
    await backdate(runtime, session["session_id"], 70)
    await play(client, session, start_s=0, seconds=50)
    progress = await progress_of(runtime, user.id, lecture.id)
    assert progress.watched_s == 50 and progress.completed_at is None
    last = await send(client, session, beat(session, 7, 58, 58_000))
    assert last.json() == {"accepted": True, "duplicate": False, "watched_s": 58.0, "coverage": 96.7,
                           "completed": True}
    completed_at = (await progress_of(runtime, user.id, lecture.id)).completed_at
    assert completed_at is not None
    await send(client, session, beat(session, 8, 60, 60_000))
    assert (await progress_of(runtime, user.id, lecture.id)).completed_at == completed_at  # stored once

    summary = (await client.get(f"/api/v1/lectures/{lecture.id}/attendance/{user.id}")).json()
    assert summary["watched_s"] == 60 and summary["completed"] and summary["anomalies"] == 0
    assert summary["spans"] == [[0, 60]]


async def test_beacon_body_and_duplicates(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    lecture = await online_lecture(runtime)
    session = await open_session(client, lecture.id)
    await backdate(runtime, session["session_id"], 30)
    url = f"/api/v1/viewing-sessions/{session['session_id']}/heartbeats"
    import json

    first = beat(session, 1, 0, 0, event="play")
    plain = await client.post(url, content=json.dumps(first), headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert plain.status_code == 200 and plain.json()["accepted"]
    second = beat(session, 2, 10, 10_000)
    assert (await send(client, session, second)).json()["watched_s"] == 10
    again = (await send(client, session, second)).json()
    assert again["duplicate"] is True and again["watched_s"] == 10


async def test_heartbeat_errors(client: httpx.AsyncClient, make_client: Callable[[], httpx.AsyncClient],
                                runtime: Runtime) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    lecture = await online_lecture(runtime)
    session = await open_session(client, lecture.id)
    anonymous = make_client()
    assert (await anonymous.post(f"/api/v1/lectures/{lecture.id}/viewing-sessions", json={})).status_code in (401, 403)
    unknown = {**session, "session_id": "00000000-0000-4000-8000-000000000000"}
    assert (await send(anonymous, unknown, beat(session, 1, 0, 0))).status_code == 404
    assert (await send(anonymous, {**session, "session_id": "nope"}, beat(session, 1, 0, 0))).status_code == 404
    bad = await send(anonymous, session, {**beat(session, 1, 0, 0), "token": "x" * 43})
    assert bad.status_code == 403 and bad.json()["code"] == "bad_token"
    missing = await send(anonymous, session, {"token": session["token"], "seq": 1})
    assert missing.status_code == 422
    wrong_type = await anonymous.post(f"/api/v1/viewing-sessions/{session['session_id']}/heartbeats",
                                      content=b"seq=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert wrong_type.status_code == 415 and wrong_type.json()["code"] == "unsupported_media_type"
    url = f"/api/v1/viewing-sessions/{session['session_id']}/heartbeats"
    huge = await anonymous.post(url, content=b'{"token": "' + b"x" * 5000 + b'"}',
                                headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json() == {"error": "提交的内容过大", "code": "body_too_large"}
    fetched = await anonymous.get(url)
    assert fetched.status_code == 405 and fetched.json()["code"] == "http_405"
    # The heartbeat needs no cookie and no CSRF header: the token is the authority.
    ok = await send(anonymous, session, beat(session, 1, 0, 0))
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"
    assert ok.json() == {"accepted": True, "duplicate": False, "watched_s": 0.0, "coverage": 0.0, "completed": False}


async def test_rate_limited_per_session(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    lecture = await online_lecture(runtime)
    session = await open_session(client, lecture.id)
    statuses = [(await send(client, session, beat(session, n, 0, 0, paused=True, event="pause"))).status_code
                for n in range(1, 26)]
    assert statuses.count(200) == 20 and statuses[-1] == 429
    limited = await send(client, session, beat(session, 30, 0, 0, paused=True, event="pause"))
    assert limited.json()["code"] == "rate_limited"


async def test_not_ready_media_refuses_a_session(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    lecture = await online_lecture(runtime, ready=False)
    response = await client.post(f"/api/v1/lectures/{lecture.id}/viewing-sessions", json={})
    assert response.status_code == 409 and response.json()["code"] == "media_not_ready"


async def test_resume_position_and_audit_trail(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    lecture = await online_lecture(runtime)
    session = await open_session(client, lecture.id)
    await backdate(runtime, session["session_id"], 40)
    await play(client, session, start_s=100, seconds=20)
    assert (await send(client, session, beat(session, 4, 400, 21_000))).status_code == 200  # a jump
    reopened = await open_session(client, lecture.id)
    assert reopened["resume_position_s"] == 400
    async with runtime.sessions() as db:
        beats = (await db.exec(select(Heartbeat).where(Heartbeat.session_id == session["session_id"])
                               .order_by(col(Heartbeat.seq)))).all()
    assert [(b.credited_from_s, b.credited_to_s, b.anomaly) for b in beats] == [
        (None, None, None), (100, 110, None), (110, 120, None), (None, None, "jump")]


async def test_record_and_xapi_visibility(make_client: Callable[[], httpx.AsyncClient], runtime: Runtime) -> None:
    parent = await make_unit(runtime, "市总工会")
    factory = await make_unit(runtime, "机械厂工会", parent)
    other = await make_unit(runtime, "纺织厂工会", parent)
    worker = await make_user(runtime, Role.worker, unit=factory)
    lecture = await online_lecture(runtime)
    me = await sign_in(make_client(), runtime, worker)
    session = await open_session(me, lecture.id)
    await backdate(runtime, session["session_id"], 40)
    await play(me, session, start_s=0, seconds=30)
    await open_session(me, lecture.id)  # closes the first session

    path = f"/api/v1/lectures/{lecture.id}/attendance/{worker.id}/xapi"
    statements = (await me.get(path)).json()
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in statements]
    assert verbs[:5] == ["initialized", "played", "played", "played", "terminated"]
    played = [s for s in statements if s["verb"]["id"].endswith("/played")]
    assert played[0]["result"]["extensions"]["https://w3id.org/xapi/video/extensions/time-from"] == 0
    terminated = statements[4]["result"]["extensions"]
    assert terminated["https://w3id.org/xapi/video/extensions/played-segments"] == "0[.]30"
    assert statements[0]["actor"]["account"]["name"] == str(worker.id)

    allowed = [await make_user(runtime, Role.admin), await make_user(runtime, Role.unit_admin, unit=parent),
               await make_user(runtime, Role.unit_admin, unit=factory)]
    refused = [await make_user(runtime, Role.worker, unit=factory),
               await make_user(runtime, Role.unit_admin, unit=other)]
    for person, expected in [*((p, 200) for p in allowed), *((p, 403) for p in refused)]:
        viewer = await sign_in(make_client(), runtime, person)
        assert (await viewer.get(path)).status_code == expected, person.roles
        summary = await viewer.get(f"/api/v1/lectures/{lecture.id}/attendance/{worker.id}")
        assert summary.status_code == expected
