"""Catalogue changes committed by any process make every server forget its shared page renders."""

from __future__ import annotations

import asyncio
import time

import psycopg

from server.catalogue_events import CatalogueListener
from server.db import libpq_url
from server.runtime import Runtime
from server.services import snapshot
from server.settings import Settings
from tests.server.attendance_fixtures import online_lecture


class Renders:
    def __init__(self) -> None:
        self.count = 0

    async def produce(self) -> int:
        self.count += 1
        return self.count

    async def current(self) -> int:
        return int(await snapshot.cached("test:page", 300, self.produce))


async def forgotten_within(renders: Renders, seconds: float) -> bool:
    seen = renders.count
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await renders.current() > seen:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_commits_from_another_process_forget_renders_but_progress_ticks_do_not(
        settings: Settings, runtime: Runtime) -> None:
    lecture = await online_lecture(runtime)
    url = libpq_url(settings.database_url or "")
    listener = CatalogueListener(url)
    listener.start()
    try:
        await asyncio.wait_for(listener.ready.wait(), 10)
        renders = Renders()
        await renders.current()
        with psycopg.connect(url, autocommit=True) as other:  # e.g. another server process, or psql
            other.execute("UPDATE media SET percent = 42 WHERE lecture_id = %s", (lecture.id,))
            assert not await forgotten_within(renders, 1.0)  # transcode progress is not a page change
            other.execute("UPDATE lecture SET title = '新标题' WHERE id = %s", (lecture.id,))
            assert await forgotten_within(renders, 5.0)
            other.execute("UPDATE media SET state = 'failed' WHERE lecture_id = %s", (lecture.id,))
            assert await forgotten_within(renders, 5.0)
    finally:
        await listener.stop()
    snapshot.forget()
