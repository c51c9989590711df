"""Demo participation: check-ins at past 劳模进车间/园区/校园 sessions and completions of online lectures.

So the dashboard of `jiangtang serve --demo` shows living numbers and trends, the demo workers (accounts_demo)
get attendance spread over the last eight weeks. Online demo lectures are re-dated to have been published
across those weeks (a completion never precedes its lecture's publication); lectures with a demo recording
are left alone so a visitor can complete them for real. Who attends what is drawn from a generator seeded by
(lecture, person), and rows are inserted with ON CONFLICT DO NOTHING: loading twice adds nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import any_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import transaction
from server.models.attendance import CheckIn, CheckInMethod, WatchProgress
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, Lecturer, LectureStatus
from server.models.media import Media
from server.models.people import Role, User
from server.permissions import Actor
from server.rules.participation import REPORT_TZ
from server.runtime import Runtime
from server.services import lecture_admin
from server.services.catalogue_demo import PALETTE, draw_picture
from server.services.images import ImageKind, store_image
from server.workflow import Action

DEMO_PHONE_PREFIX = "139000000"  # accounts_demo's people
WEEKS = 8
PAST_OFFLINE = [  # (title, venue, address, days ago, 1-based lecturer index in the demo roster)
    ("劳模进车间：数控机床操作绝活", "workshop", "机械厂一车间职工活动室", 9, 1),
    ("劳模进园区：新能源电池装配的质量关", "park", "星海科技园区党群服务中心", 23, 5),
    ("劳模进校园：工匠精神代代传", "campus", "江城理工大学图书馆报告厅", 38, 7),
]
ATTEND = 0.7  # share of the demo workers at a past on-site session
START = 0.55  # share who start an online lecture …
COMPLETE = 0.75  # … and, of those, who complete it


def _rng(lecture_id: int, user_id: int) -> random.Random:
    return random.Random(f"jiangtang-demo:{lecture_id}:{user_id}")  # noqa: S311 — demo data, not security


def _local(day: datetime, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day.astimezone(REPORT_TZ).date(), time(hour, minute), REPORT_TZ)


async def _actor(db: AsyncSession) -> Actor | None:
    admin = (await db.exec(select(User).where(any_(User.roles) == Role.admin.value).order_by(col(User.id)))).first()
    return Actor(admin.id, frozenset({Role.admin.value}), None) if admin and admin.id else None


async def _past_offline(runtime: Runtime, actor: Actor, now: datetime) -> None:
    """Past on-site sessions to check in to: the catalogue demo's offline lectures all lie ahead."""
    async with runtime.sessions() as db:
        past = (await db.exec(select(Lecture.id).where(Lecture.kind == LectureKind.offline,
                                                       Lecture.status == LectureStatus.published,
                                                       col(Lecture.starts_at) < now))).first()
        lecturers = list((await db.exec(select(Lecturer.id).order_by(col(Lecturer.id)))).all())
    if past is not None:
        return
    for i, (title, venue, address, days_ago, lecturer) in enumerate(PAST_OFFLINE):
        start = _local(now - timedelta(days=days_ago), 14, 30)
        values, ids, errors = lecture_admin.clean_lecture({
            "title": title, "kind": "offline", "venue_type": venue, "address": address, "capacity": "80",
            "tags": "劳模精神,现场", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "summary": f"《{title}》——劳模工匠走进一线，现场讲解、手把手示范。"},
            lecturers[lecturer - 1: lecturer])
        assert not errors, errors
        cover = await store_image(runtime.storage, draw_picture(title, PALETTE[i % len(PALETTE)], (1280, 720)),
                                  ImageKind.cover)
        async with transaction(runtime.sessions) as db:
            lecture = await lecture_admin.save_lecture(db, actor=actor, lecture_id=None, values=values,
                                                       lecturer_ids=ids, ip=None)
            lecture.cover_key = cover
            await lecture_admin.transition(db, actor=actor, lecture_id=lecture.id or 0, action=Action.publish,
                                           note="", ip=None)
            lecture.published_at = start - timedelta(days=7)  # announced a week ahead


def _checkin_rows(lectures: list[Lecture], workers: list[User], admin_id: int) -> list[dict[str, Any]]:
    rows = []
    for lecture in lectures:
        assert lecture.starts_at is not None
        for user in workers:
            rng = _rng(lecture.id or 0, user.id or 0)
            if rng.random() >= ATTEND:
                continue
            by_roster = rng.random() < 0.1  # no phone at hand: checked in from the roster by the organiser
            rows.append({"lecture_id": lecture.id, "user_id": user.id, "unit_id": user.unit_id,
                         "method": CheckInMethod.roster if by_roster else CheckInMethod.qr,
                         "by_user_id": admin_id if by_roster else None, "detail": {},
                         "at": lecture.starts_at + timedelta(minutes=rng.uniform(-25, 10))})
    return rows


def _progress_rows(lectures: list[Lecture], workers: list[User], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for lecture in lectures:
        published = lecture.published_at or now
        duration = 1200.0 + 300 * ((lecture.id or 0) % 7)  # 20–50 minutes
        for user in workers:
            rng = _rng(lecture.id or 0, user.id or 0)
            if rng.random() >= START:
                continue
            started = published + (now - published) * rng.uniform(0.02, 0.8)
            started = _local(started, rng.randint(8, 21), rng.randint(0, 59))
            if started <= published or started >= now:
                started = published + (now - published) / 3
            completes = rng.random() < COMPLETE
            share = rng.uniform(max(lecture.completion_ratio, 0.92), 1.0) if completes else rng.uniform(0.1, 0.6)
            watched = round(duration * share, 1)
            # Most finish in one sitting; some come back a few days later.
            later = timedelta(days=rng.choice([0, 0, 0, 1, 2, 5]), seconds=watched * 1.1)
            completed = min(started + later, now - timedelta(minutes=5)) if completes else None
            rows.append({"user_id": user.id, "lecture_id": lecture.id, "unit_id": user.unit_id,
                         "spans": [[0.0, watched]], "watched_s": watched, "duration_s": duration,
                         "last_position_s": watched, "anomalies": 0, "started_at": started,
                         "updated_at": completed or started + timedelta(seconds=watched), "completed_at": completed})
    return rows


async def load(runtime: Runtime) -> None:
    now = utcnow()
    async with runtime.sessions() as db:
        actor = await _actor(db)
        workers = list((await db.exec(select(User).where(col(User.phone).startswith(DEMO_PHONE_PREFIX),
                                                         col(User.is_active)).order_by(col(User.id)))).all())
    if actor is None or not workers:
        return
    await _past_offline(runtime, actor, now)
    async with transaction(runtime.sessions) as db:
        offline = list((await db.exec(select(Lecture).where(
            Lecture.kind == LectureKind.offline, Lecture.status == LectureStatus.published,
            col(Lecture.starts_at) < now - timedelta(hours=2)).order_by(col(Lecture.id)))).all())
        online = list((await db.exec(select(Lecture).where(
            Lecture.kind == LectureKind.online, Lecture.status == LectureStatus.published,
            col(Lecture.id).not_in(select(Media.lecture_id))).order_by(col(Lecture.id)))).all())
        first = now - timedelta(weeks=WEEKS)
        for k, lecture in enumerate(online):  # a few new lectures each week
            announced = _local(first + (now - first) * (k / max(1, len(online))) * 0.85, 9)
            if lecture.published_at is None or lecture.published_at > announced:
                lecture.published_at = announced
                db.add(lecture)
        await db.flush()
        checkins = _checkin_rows(offline, workers, actor.user_id)
        progress = _progress_rows(online, workers, now)
        if checkins:
            await db.exec(insert(CheckIn).values(checkins).on_conflict_do_nothing(  # type: ignore[call-overload]
                constraint="uq_checkin_lecture_user"))
        if progress:
            await db.exec(insert(WatchProgress).values(progress).on_conflict_do_nothing())  # type: ignore[call-overload]
