from __future__ import annotations

import httpx

from server.db import transaction
from server.models.attendance import CheckIn, CheckInMethod
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.people import Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in
from tests.server.attendance_fixtures import backdate, online_lecture, open_session, play


async def test_empty_learning_page(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    page = await client.get("/me/learning")
    assert page.status_code == 200
    assert "还没有观看过课程" in page.text and "还没有线下签到记录" in page.text


async def test_learning_page_shows_progress_and_checkins(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime, Role.worker)
    await sign_in(client, runtime, user)
    watched = await online_lecture(runtime, duration_s=100)
    session = await open_session(client, watched.id)
    await backdate(runtime, session["session_id"], 60)
    await play(client, session, start_s=0, seconds=50)
    async with transaction(runtime.sessions) as db:
        offline = Lecture(title="车间里的安全课", kind=LectureKind.offline, status=LectureStatus.published)
        db.add(offline)
        await db.flush()
        db.add(CheckIn(lecture_id=offline.id, user_id=user.id, method=CheckInMethod.qr))

    page = (await client.get("/me/learning")).text
    assert watched.title in page and 'data-watched-s="50.0"' in page
    assert 'value="50"' in page  # the progress bar
    assert "车间里的安全课" in page
    assert 'data-stat="started">1 讲' in page and 'data-stat="completed">0 讲' in page


async def test_someone_elses_progress_is_not_shown(client: httpx.AsyncClient, make_client, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    other = await sign_in(make_client(), runtime, await make_user(runtime, Role.worker))
    lecture = await online_lecture(runtime)
    await open_session(other, lecture.id)
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    assert lecture.title not in (await client.get("/me/learning")).text
