from __future__ import annotations

from sqlmodel import select

from server.models.catalogue import Lecture
from server.models.media import Media, MediaState
from server.models.people import Role
from server.runtime import Runtime
from server.services import media_demo
from tests.factories import make_user


async def test_demo_recordings_go_through_the_upload_path(runtime: Runtime) -> None:
    await make_user(runtime, Role.admin)
    await media_demo.load(runtime, seconds=3)
    async with runtime.sessions() as db:
        media = (await db.exec(select(Media))).all()
        lectures = (await db.exec(select(Lecture))).all()
    assert len(media) == len(media_demo.RECORDINGS) == len(lectures)
    assert all(m.state == MediaState.queued for m in media)
    sizes = [runtime.storage.size_of(m.source_key) for m in media]
    assert all(s and s > 10_000 for s in sizes)
    jobs = list(await runtime.jobs.job_manager.list_jobs_async(status="todo"))
    assert sorted(j.task_kwargs["media_id"] for j in jobs) == sorted(m.id for m in media)
