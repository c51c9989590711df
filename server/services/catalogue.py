"""Catalogue reads: series, published lectures for lists and the home page, and who may see a lecture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Invalid, NotFound
from server.ids import is_digits
from server.models.attendance import CheckIn, WatchProgress
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureLecturer, Lecturer, LectureStatus, Series
from server.models.media import Media
from server.pagination import Page
from server.permissions import Actor, can_edit_lecture, can_see_unpublished
from server.services.audit import record

PUBLISHED = LectureStatus.published


@dataclass
class LectureView:
    """Everything the lecture page shows; other features' includes read ``media``, ``progress``, ``checkin``."""

    lecture: Lecture
    lecturers: list[Lecturer]
    series: Series | None
    media: Media | None
    progress: WatchProgress | None
    checkin: CheckIn | None
    can_edit: bool


async def lecturers_of(db: AsyncSession, lecture_ids: Sequence[int]) -> dict[int, list[Lecturer]]:
    """Each lecture's lecturers in billing order, for many lectures in one query."""
    result: dict[int, list[Lecturer]] = {i: [] for i in lecture_ids}
    if not lecture_ids:
        return result
    rows = (await db.exec(select(LectureLecturer.lecture_id, Lecturer)
                          .join(Lecturer, col(Lecturer.id) == LectureLecturer.lecturer_id)
                          .where(col(LectureLecturer.lecture_id).in_(lecture_ids))
                          .order_by(col(LectureLecturer.lecture_id), col(LectureLecturer.position)))).all()
    for lecture_id, lecturer in rows:
        result[lecture_id].append(lecturer)
    return result


async def published_page(db: AsyncSession, *, page: int, per_page: int = 20, series_id: int | None = None,
                         lecturer_id: int | None = None) -> Page:
    where: list[Any] = [col(Lecture.status) == PUBLISHED]
    if series_id is not None:
        where.append(col(Lecture.series_id) == series_id)
    if lecturer_id is not None:
        where.append(col(Lecture.id).in_(select(LectureLecturer.lecture_id)
                                         .where(LectureLecturer.lecturer_id == lecturer_id)))
    total = (await db.exec(select(func.count()).select_from(Lecture).where(*where))).one()
    rows = (await db.exec(select(Lecture).where(*where)
                          .order_by(col(Lecture.published_at).desc().nulls_last(), col(Lecture.id).desc())
                          .offset((page - 1) * per_page).limit(per_page))).all()
    return Page(list(rows), page, per_page, total)


async def latest_online(db: AsyncSession, *, limit: int = 8) -> list[Lecture]:
    return list((await db.exec(select(Lecture).where(Lecture.status == PUBLISHED, Lecture.kind == LectureKind.online)
                               .order_by(col(Lecture.published_at).desc().nulls_last(), col(Lecture.id).desc())
                               .limit(limit))).all())


async def upcoming_offline(db: AsyncSession, *, limit: int = 6) -> list[Lecture]:
    return list((await db.exec(select(Lecture).where(Lecture.status == PUBLISHED,
                                                     Lecture.kind == LectureKind.offline,
                                                     col(Lecture.starts_at) >= utcnow())
                               .order_by(col(Lecture.starts_at)).limit(limit))).all())


async def all_series(db: AsyncSession, *, featured_only: bool = False) -> list[tuple[Series, int]]:
    """Series in display order with their published lecture counts (one query)."""
    counts = (select(Lecture.series_id, func.count().label("n")).where(Lecture.status == PUBLISHED)
              .group_by(col(Lecture.series_id)).subquery())
    query = select(Series, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.series_id == Series.id)
    if featured_only:
        query = query.where(col(Series.featured))
    rows = (await db.exec(query.order_by(col(Series.sort), col(Series.id)))).all()
    return [(s, int(n)) for s, n in rows]


async def get_series(db: AsyncSession, series_id: int) -> Series:
    series = await db.get(Series, series_id)
    if series is None:
        raise NotFound("没有找到这个系列")
    return series


async def lecture_authors(db: AsyncSession, lecture_id: int) -> set[int]:
    """User ids of the lecturers (with accounts) billed on a lecture."""
    rows = (await db.exec(select(Lecturer.user_id)
                          .join(LectureLecturer, col(LectureLecturer.lecturer_id) == Lecturer.id)
                          .where(LectureLecturer.lecture_id == lecture_id, col(Lecturer.user_id).is_not(None)))).all()
    return {int(u) for u in rows if u is not None}


async def visible_lecture(db: AsyncSession, lecture_id: int, actor: Actor | None) -> tuple[Lecture, bool]:
    """The lecture if this person may see it, and whether they may edit it. Unseeable is 'not found'."""
    lecture = await db.get(Lecture, lecture_id)
    if lecture is None:
        raise NotFound("没有找到这个讲座")
    authors = await lecture_authors(db, lecture_id) if actor else set()
    can_edit = actor is not None and can_edit_lecture(actor, owner_id=lecture.owner_id, lecturer_user_ids=authors)
    if lecture.status != PUBLISHED and not can_see_unpublished(actor, owner_id=lecture.owner_id,
                                                               lecturer_user_ids=authors):
        raise NotFound("没有找到这个讲座")
    return lecture, can_edit


async def lecture_view(db: AsyncSession, lecture_id: int, actor: Actor | None) -> LectureView:
    lecture, can_edit = await visible_lecture(db, lecture_id, actor)
    lecturers = (await lecturers_of(db, [lecture_id]))[lecture_id]
    series = await db.get(Series, lecture.series_id) if lecture.series_id else None
    media = await db.get(Media, lecture.current_media_id) if lecture.current_media_id else None
    progress = checkin = None
    if actor is not None:
        progress = await db.get(WatchProgress, (actor.user_id, lecture_id))
        checkin = (await db.exec(select(CheckIn).where(CheckIn.lecture_id == lecture_id,
                                                       CheckIn.user_id == actor.user_id))).first()
    return LectureView(lecture, lecturers, series, media, progress, checkin, can_edit)


# --- series editing (admins) ----------------------------------------------------------------------

def clean_series(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    title = str(form.get("title") or "").strip()
    if not title:
        errors["title"] = "请填写系列名称"
    elif len(title) > 100:
        errors["title"] = "系列名称不超过 100 个字"
    description = str(form.get("description") or "").strip()
    if len(description) > 5000:
        errors["description"] = "简介不超过 5000 个字"
    raw_sort = str(form.get("sort") if form.get("sort") is not None else "0").strip() or "0"
    if not is_digits(raw_sort.lstrip("-")) or len(raw_sort) > 6:
        errors["sort"] = "排序应为整数"
    featured = form.get("featured")
    return {"title": title, "description": description,
            "sort": int(raw_sort) if "sort" not in errors else 0,
            "featured": featured in (True, "on", "true", "1")}, errors


async def save_series(db: AsyncSession, *, actor: Actor, series_id: int | None, values: dict[str, Any],
                      ip: str | None) -> Series:
    clash = (await db.exec(select(Series.id).where(Series.title == values["title"],
                                                    Series.id != (series_id or 0)))).first()
    if clash:
        raise Invalid("已有同名系列", fields={"title": "已有同名系列"})
    series = Series(**values) if series_id is None else await get_series(db, series_id)
    before = {} if series_id is None else series.model_dump(include=set(values))
    for key, value in values.items():
        setattr(series, key, value)
    db.add(series)
    await db.flush()
    await record(db, actor_id=actor.user_id, action="series.create" if series_id is None else "series.update",
                 target_type="series", target_id=series.id, before=before, after=values, ip=ip)
    return series


async def set_series_cover(db: AsyncSession, *, actor: Actor, series_id: int, key: str, ip: str | None) -> None:
    series = await get_series(db, series_id)
    await record(db, actor_id=actor.user_id, action="series.cover", target_type="series", target_id=series_id,
                 before={"cover_key": series.cover_key}, after={"cover_key": key}, ip=ip)
    series.cover_key = key
    db.add(series)


async def delete_series(db: AsyncSession, *, actor: Actor, series_id: int, ip: str | None) -> None:
    series = await get_series(db, series_id)
    await record(db, actor_id=actor.user_id, action="series.delete", target_type="series", target_id=series_id,
                 before=series.model_dump(include={"title", "description", "sort", "featured", "cover_key"}),
                 ip=ip)
    await db.delete(series)
