"""Lecture editing and the review workflow: authors draft and submit, only admins publish (先审后发)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.ids import is_digits
from server.models.base import utcnow
from server.models.catalogue import (
    Lecture,
    LectureKind,
    LectureLecturer,
    Lecturer,
    LectureStatus,
    LectureTransition,
    Series,
    VenueType,
)
from server.pagination import Page
from server.permissions import Actor
from server.search_text import build_search_text, normalise_query
from server.services.audit import record
from server.services.catalogue import lecturers_of, visible_lecture
from server.services.roster import lecturer_for_user, split_list
from server.workflow import Action, decide

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
FIELDS = ("title", "summary", "series_id", "kind", "tags", "venue_type", "address", "starts_at", "ends_at",
          "capacity", "target_unit_ids", "completion_ratio", "max_rate", "credit_hidden")


def _local_datetime(raw: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)


def _number(raw: Any, low: float, high: float) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if low <= value <= high else None


def clean_lecture(form: Mapping[str, Any], lecturer_ids: Sequence[str | int]) -> tuple[dict[str, Any], list[int],
                                                                                         dict[str, str]]:
    """Form or JSON fields → (values, ordered lecturer ids, Chinese field errors). Pure."""
    errors: dict[str, str] = {}
    get = lambda k: str(form.get(k) if form.get(k) is not None else "").strip()  # noqa: E731
    values: dict[str, Any] = {"title": get("title"), "summary": get("summary")}
    if not values["title"]:
        errors["title"] = "请填写讲座标题"
    elif len(values["title"]) > 150:
        errors["title"] = "标题不超过 150 个字"
    if len(values["summary"]) > 5000:
        errors["summary"] = "简介不超过 5000 个字"
    series = get("series_id")
    values["series_id"] = int(series) if is_digits(series) else None
    kind = get("kind") or "online"
    if kind not in LectureKind.__members__:
        errors["kind"] = "请选择讲座形式"
    values["kind"] = LectureKind(kind) if kind in LectureKind.__members__ else LectureKind.online
    tags = form.get("tags") or []
    values["tags"] = split_list(tags, limit=10, width=20) if isinstance(tags, str) else [str(t)[:20] for t in tags][:10]
    values.update(venue_type=None, address="", starts_at=None, ends_at=None, capacity=None, target_unit_ids=[])
    if values["kind"] is LectureKind.offline:
        venue = get("venue_type")
        if venue not in VenueType.__members__:
            errors["venue_type"] = "请选择场地类型"
        else:
            values["venue_type"] = VenueType(venue)
        values["address"] = get("address")[:200]
        if not values["address"]:
            errors["address"] = "请填写地点"
        values["starts_at"] = _local_datetime(get("starts_at"))
        values["ends_at"] = _local_datetime(get("ends_at"))
        if values["starts_at"] is None:
            errors["starts_at"] = "请填写开始时间"
        if values["ends_at"] is None:
            errors["ends_at"] = "请填写结束时间"
        elif values["starts_at"] and values["ends_at"] <= values["starts_at"]:
            errors["ends_at"] = "结束时间应晚于开始时间"
        capacity = get("capacity")
        if capacity and (not is_digits(capacity) or not 1 <= int(capacity) <= 100000):
            errors["capacity"] = "人数上限应为 1–100000 的整数"
        values["capacity"] = int(capacity) if is_digits(capacity) else None
        units = form.get("target_unit_ids") or []
        parts = split_list(units) if isinstance(units, str) else [str(u) for u in units]
        if any(not is_digits(p) for p in parts):
            errors["target_unit_ids"] = "面向单位应填写单位编号，用逗号分隔"
        values["target_unit_ids"] = [int(p) for p in parts if is_digits(p)]
    ratio = _number(form.get("completion_ratio") or 90, 10, 100)
    if ratio is None:
        errors["completion_ratio"] = "完成比例应在 10%–100% 之间"
    values["completion_ratio"] = (ratio or 90) / 100
    rate = _number(form.get("max_rate") or 2, 1, 4)
    if rate is None:
        errors["max_rate"] = "最高倍速应在 1–4 之间"
    values["max_rate"] = rate or 2.0
    values["credit_hidden"] = form.get("credit_hidden") in (True, "on", "true", "1")
    ids: list[int] = []
    for raw in lecturer_ids:
        text = str(raw).strip()
        if is_digits(text) and int(text) not in ids:
            ids.append(int(text))
    return values, ids, errors


def snapshot(lecture: Lecture) -> dict[str, Any]:
    return {k: getattr(lecture, k) for k in (*FIELDS, "status", "cover_key")}


async def _search_text(db: AsyncSession, lecture: Lecture, lecturers: Sequence[Lecturer]) -> str:
    series = await db.get(Series, lecture.series_id) if lecture.series_id else None
    primary = [lecture.title, *lecture.tags, *(lr.name for lr in lecturers), series.title if series else ""]
    return build_search_text(primary, [lecture.summary, lecture.address])


async def refresh_search_text(db: AsyncSession, lecture: Lecture) -> None:
    lecturers = (await lecturers_of(db, [lecture.id or 0])).get(lecture.id or 0, [])
    lecture.search_text = await _search_text(db, lecture, lecturers)
    db.add(lecture)


async def save_lecture(db: AsyncSession, *, actor: Actor, lecture_id: int | None, values: dict[str, Any],
                       lecturer_ids: list[int], ip: str | None) -> Lecture:
    """Create (owned by the actor) or update a lecture with its ordered lecturers; audited."""
    if values.get("series_id") and await db.get(Series, values["series_id"]) is None:
        raise Invalid("所选系列不存在", fields={"series_id": "所选系列不存在"})
    lecturers = list((await db.exec(select(Lecturer).where(col(Lecturer.id).in_(lecturer_ids)))).all())
    if len(lecturers) != len(lecturer_ids):
        raise Invalid("所选讲师不存在", fields={"lecturer_ids": "所选讲师不存在"})
    if not actor.is_admin:
        own = await lecturer_for_user(db, actor.user_id)
        if own and own.id not in lecturer_ids:
            lecturer_ids.insert(0, own.id or 0)
            lecturers.append(own)
    if lecture_id is None:
        lecture, before = Lecture(owner_id=actor.user_id, **values), {}
    else:
        lecture, can_edit = await visible_lecture(db, lecture_id, actor)
        if not can_edit:
            raise Forbidden("您不能修改这个讲座")
        if not actor.is_admin and lecture.status is not LectureStatus.draft:
            raise Forbidden("讲座已提交或已发布，需管理员退回或下线后才能修改")
        before = snapshot(lecture)
        for key, value in values.items():
            setattr(lecture, key, value)
        lecture.updated_at = utcnow()
    db.add(lecture)
    await db.flush()
    await db.exec(delete(LectureLecturer).where(col(LectureLecturer.lecture_id) == lecture.id))
    for position, lid in enumerate(lecturer_ids):
        db.add(LectureLecturer(lecture_id=lecture.id or 0, lecturer_id=lid, position=position))
    by_id = {lr.id: lr for lr in lecturers}
    lecture.search_text = await _search_text(db, lecture, [by_id[i] for i in lecturer_ids])
    await record(db, actor_id=actor.user_id, action="lecture.create" if lecture_id is None else "lecture.update",
                 target_type="lecture", target_id=lecture.id, before=before,
                 after={**snapshot(lecture), "lecturer_ids": lecturer_ids}, ip=ip)
    return lecture


async def transition(db: AsyncSession, *, actor: Actor, lecture_id: int, action: Action, note: str,
                     ip: str | None) -> Lecture:
    """Move a lecture through the workflow, recording who and when."""
    lecture, can_edit = await visible_lecture(db, lecture_id, actor)
    outcome = decide(action, lecture.status, is_admin=actor.is_admin, is_author=can_edit)
    if not isinstance(outcome, LectureStatus):
        raise (Forbidden if "只有" in outcome else Conflict)(outcome)
    note = note.strip()[:500]
    if action is Action.reject and not note:
        raise Invalid("退回时请填写修改意见", fields={"note": "请填写修改意见"})
    source = lecture.status
    lecture.status = outcome
    lecture.updated_at = utcnow()
    if outcome is LectureStatus.published:
        lecture.published_at = lecture.published_at or utcnow()
    db.add(lecture)
    db.add(LectureTransition(lecture_id=lecture_id, from_status=source, to_status=outcome,
                             by_user_id=actor.user_id, note=note))
    await record(db, actor_id=actor.user_id, action=f"lecture.{action.value}", target_type="lecture",
                 target_id=lecture_id, before={"status": source}, after={"status": outcome, "note": note}, ip=ip)
    return lecture


async def history(db: AsyncSession, lecture_id: int) -> list[LectureTransition]:
    return list((await db.exec(select(LectureTransition).where(LectureTransition.lecture_id == lecture_id)
                               .order_by(col(LectureTransition.at).desc()))).all())


async def set_cover(db: AsyncSession, *, actor: Actor, lecture_id: int, key: str, ip: str | None) -> None:
    lecture, can_edit = await visible_lecture(db, lecture_id, actor)
    if not can_edit:
        raise Forbidden("您不能修改这个讲座")
    await record(db, actor_id=actor.user_id, action="lecture.cover", target_type="lecture", target_id=lecture_id,
                 before={"cover_key": lecture.cover_key}, after={"cover_key": key}, ip=ip)
    lecture.cover_key = key
    db.add(lecture)


async def manageable(db: AsyncSession, *, actor: Actor, status: str | None, q: str, page: int,
                     per_page: int = 30) -> Page:
    """Lectures an admin (all) or a lecturer (their own or billed on) manages, newest first."""
    where: list[Any] = []
    if not actor.is_admin:
        own = await lecturer_for_user(db, actor.user_id)
        mine = col(Lecture.owner_id) == actor.user_id
        if own is not None:
            mine = mine | col(Lecture.id).in_(select(LectureLecturer.lecture_id)
                                              .where(LectureLecturer.lecturer_id == own.id))
        where.append(mine)
    if status in LectureStatus.__members__:
        where.append(col(Lecture.status) == LectureStatus(status))
    query = normalise_query(q)
    if query:
        where.append(col(Lecture.search_text).contains(query, autoescape=True))
    total = (await db.exec(select(func.count()).select_from(Lecture).where(*where))).one()
    rows = (await db.exec(select(Lecture).where(*where).order_by(col(Lecture.updated_at).desc())
                          .offset((page - 1) * per_page).limit(per_page))).all()
    return Page(list(rows), page, per_page, total)


async def get_for_edit(db: AsyncSession, *, actor: Actor, lecture_id: int) -> tuple[Lecture, list[Lecturer]]:
    lecture, can_edit = await visible_lecture(db, lecture_id, actor)
    if not can_edit:
        raise NotFound("没有找到这个讲座")
    return lecture, (await lecturers_of(db, [lecture_id]))[lecture_id]
