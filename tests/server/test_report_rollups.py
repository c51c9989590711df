"""The trigger-maintained rollups always equal a rebuild from the raw rows, and the figures read from them
equal both the raw-record queries and the plain-Python count of the fixture world."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlmodel import select

from server.db import transaction
from server.models.attendance import CheckIn, WatchProgress
from server.models.catalogue import LectureKind
from server.models.people import User
from server.rules.participation import Bucket, Period, PeriodKind
from server.runtime import Runtime
from server.services import reports
from server.services.report_sources import Window
from tests.factories import sign_in
from tests.server.test_reports import PERIOD, World, at, build_world

TABLES = ("report_day", "report_month", "report_person")
MARCH = Period(PeriodKind.custom, date(2026, 3, 1), date(2026, 3, 31))


async def snapshot(runtime: Runtime) -> dict[str, set[tuple[object, ...]]]:
    async with runtime.sessions() as db:
        return {t: {tuple(r) for r in (await db.exec(text(f"SELECT * FROM {t}"))).all()}  # type: ignore[call-overload]  # noqa: S608
                for t in TABLES}


async def assert_matches_rebuild(runtime: Runtime) -> None:
    maintained = await snapshot(runtime)
    async with transaction(runtime.sessions) as db:
        await db.exec(text("SELECT report_rollup_rebuild()"))  # type: ignore[call-overload]
    assert maintained == await snapshot(runtime)


async def raw_vs_rollup(runtime: Runtime, prefix: str | None) -> None:
    """The same figures through the rollups (March is one whole month) and through the raw records."""
    rolled = Window.of(MARCH, prefix)
    raw = Window(rolled.start, rolled.end, prefix)  # no period days: every per-person figure reads raw rows
    async with runtime.sessions() as db:
        assert await reports.totals(db, rolled) == await reports.totals(db, raw)
        trend = await reports.trend(db, rolled, Bucket.day)
        assert len(trend) == 31  # quiet days are present as zeros
        assert [r for r in trend if r["people"]] == await reports.trend(db, raw, Bucket.day)


def expected_totals(world: World, prefix: str | None, removed: set[tuple[int, int]]) -> tuple[int, int]:
    rows = [r for r in world.qualifying(prefix) if (r[0], r[1]) not in removed]
    return len(rows), len({r[1] for r in rows})


async def test_rollups_follow_every_change(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await build_world(runtime)
    await assert_matches_rebuild(runtime)
    await raw_vs_rollup(runtime, None)
    await raw_vs_rollup(runtime, world.units["a"].path)

    # An admin undoes a mistaken check-in through the roster page (audited), and the figures drop at once.
    admin = world.people["admin"]
    await sign_in(client, runtime, admin)
    off1, moved = world.lectures["off1"], world.people["moved"]
    async with runtime.sessions() as db:
        entry = (await db.exec(select(CheckIn).where(CheckIn.lecture_id == off1.id,
                                                     CheckIn.user_id == moved.id))).one()
    response = await client.post(f"/admin/lectures/{off1.id}/checkins/{entry.id}/undo", data={})
    assert response.status_code in (302, 303), response.text
    removed = {(off1.id, moved.id)}
    t = (await client.get(f"/api/v1/reports/summary?{PERIOD}")).json()["totals"]
    assert (t["person_times"], t["people"]) == expected_totals(world, None, removed)
    scoped = (await client.get(f"/api/v1/reports/summary?{PERIOD}&unit={world.units['a'].id}")).json()["totals"]
    assert (scoped["person_times"], scoped["people"]) == expected_totals(world, world.units["a"].path, removed)
    await assert_matches_rebuild(runtime)

    # The person who moved units moves again: past records keep their unit, so nothing changes.
    before = await snapshot(runtime)
    async with transaction(runtime.sessions) as db:
        person = await db.get(User, moved.id)
        assert person is not None
        person.unit_id = world.units["root"].id
    assert await snapshot(runtime) == before

    # Completion cleared, set, re-timed; a unit deleted (SET NULL); a lecture changes kind; a lecture deleted.
    async with transaction(runtime.sessions) as db:
        progress = (await db.exec(select(WatchProgress))).all()
        progress[0].completed_at = None
        progress[1].completed_at = at(15)
        progress[2].completed_at = (progress[2].completed_at or at(16)) + timedelta(days=1)
        progress[3].updated_at = datetime.now(progress[3].started_at.tzinfo)  # heartbeat-style update: no-op
    await assert_matches_rebuild(runtime)
    async with transaction(runtime.sessions) as db:
        await db.exec(text("UPDATE person SET unit_id = :a WHERE unit_id = :a1"),  # type: ignore[call-overload]
                      params={"a": world.units["a"].id, "a1": world.units["a1"].id})
        await db.delete(await db.get(type(world.units["a1"]), world.units["a1"].id))
    await assert_matches_rebuild(runtime)
    async with transaction(runtime.sessions) as db:
        lecture = await db.get(type(world.lectures["on1"]), world.lectures["on1"].id)
        assert lecture is not None
        lecture.kind = LectureKind.offline  # its check-in now counts, its completions no longer do
    await assert_matches_rebuild(runtime)
    await raw_vs_rollup(runtime, None)
    async with transaction(runtime.sessions) as db:
        await db.delete(await db.get(type(world.lectures["off2"]), world.lectures["off2"].id))
    await assert_matches_rebuild(runtime)
    await raw_vs_rollup(runtime, world.units["b"].path)
