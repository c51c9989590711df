"""The demo's participation data: past on-site sessions with check-ins, online completions spread over weeks,
figures the dashboard shows as living numbers, and a second load that adds nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func
from sqlmodel import select

from server.db import transaction
from server.models.attendance import CheckIn, WatchProgress
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, Lecturer, LecturerCategory, LectureStatus
from server.models.people import Role, User
from server.rules.participation import REPORT_TZ
from server.runtime import Runtime
from server.services import accounts_demo, catalogue_demo, reports_demo
from server.services.bootstrap import ensure_root_unit
from tests.factories import make_user, sign_in


async def _counts(runtime: Runtime) -> tuple[int, int, int, int]:
    async with runtime.sessions() as db:
        return ((await db.exec(select(func.count()).select_from(CheckIn))).one(),
                (await db.exec(select(func.count()).select_from(WatchProgress))).one(),
                (await db.exec(select(func.count()).where(WatchProgress.completed_at.is_not(None)))).one(),  # type: ignore[union-attr]
                (await db.exec(select(func.count()).select_from(Lecture))).one())


async def catalogue(runtime: Runtime) -> None:
    """What the catalogue demo leaves (without its pictures): online lectures, on-site ones still ahead."""
    now = utcnow()
    async with transaction(runtime.sessions) as db:
        db.add(Lecturer(name="韩立军", category=LecturerCategory.model_worker))
        for i, title in enumerate(catalogue_demo.TOPICS[:12]):
            offline = i % 4 == 3
            db.add(Lecture(title=title, status=LectureStatus.published, published_at=now,
                           kind=LectureKind.offline if offline else LectureKind.online,
                           starts_at=now + timedelta(days=3 + i) if offline else None,
                           ends_at=now + timedelta(days=3 + i, hours=2) if offline else None))


async def test_demo_participation_is_plausible_and_loads_once(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await ensure_root_unit(runtime)
    admin = await make_user(runtime, Role.admin, name="演示管理员")
    await accounts_demo.load(runtime)
    await catalogue(runtime)
    await reports_demo.load(runtime)
    first = await _counts(runtime)
    checkins, progress, completed, _ = first
    assert checkins >= 30 and completed >= 50 and progress > completed  # some started and never finished

    now = utcnow()
    async with runtime.sessions() as db:
        rows = (await db.exec(select(WatchProgress, Lecture).join(Lecture))).all()
        visits = (await db.exec(select(CheckIn, Lecture).join(Lecture))).all()
        people = {u.id: u for u in (await db.exec(select(User))).all()}
    for wp, lecture in rows:
        assert lecture.kind == LectureKind.online and lecture.published_at is not None
        assert lecture.published_at < wp.started_at < now and wp.unit_id == people[wp.user_id].unit_id
        assert wp.spans == [[0.0, wp.watched_s]] and wp.watched_s <= wp.duration_s
        if wp.completed_at is not None:
            assert wp.started_at < wp.completed_at < now
            assert wp.watched_s >= lecture.completion_ratio * wp.duration_s
    completions = sorted(wp.completed_at for wp, _ in rows if wp.completed_at)
    assert completions[-1] - completions[0] > timedelta(weeks=4)  # a trend, not a spike
    for ci, lecture in visits:
        assert lecture.kind == LectureKind.offline and lecture.starts_at is not None
        assert lecture.starts_at - timedelta(minutes=30) <= ci.at <= lecture.starts_at + timedelta(minutes=30) < now

    await sign_in(client, runtime, admin)
    first_day = min(completions[0], *(ci.at for ci, _ in visits)).astimezone(REPORT_TZ).date()
    period = {"period": "custom", "from": first_day.isoformat(), "to": now.astimezone(REPORT_TZ).date().isoformat()}
    totals = (await client.get("/api/v1/reports/summary", params=period)).json()["totals"]
    assert (totals["onsite_person_times"], totals["online_person_times"]) == (checkins, completed)
    assert totals["people"] >= 25

    await reports_demo.load(runtime)
    assert await _counts(runtime) == first
