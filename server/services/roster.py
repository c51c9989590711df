"""The expert-lecturer roster (专家名师库): listing, profiles, editing, photos, reach figures."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Invalid, NotFound
from server.ids import is_digits
from server.models.base import utcnow
from server.models.catalogue import CATEGORY_LABELS, Lecturer, LecturerCategory
from server.models.people import User
from server.pagination import Page
from server.permissions import Actor
from server.search_text import build_search_text, normalise_query
from server.services import reports
from server.services.audit import record

_SPLIT = re.compile(r"[\n\r,，、;；]+")
EDITABLE = ("name", "category", "honours", "work_unit", "bio", "topics", "user_id")


def split_list(raw: str, *, limit: int = 20, width: int = 60) -> list[str]:
    return [p.strip()[:width] for p in _SPLIT.split(raw or "") if p.strip()][:limit]


def clean_lecturer(form: Mapping[str, Any], *, allow_link: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Form or JSON fields → values and Chinese field errors (pure)."""
    errors: dict[str, str] = {}
    name = str(form.get("name") or "").strip()
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > 50:
        errors["name"] = "姓名不超过 50 个字"
    category = str(form.get("category") or "")
    if category not in LecturerCategory.__members__:
        errors["category"] = "请选择类别"
    honours = form.get("honours") or []
    topics = form.get("topics") or []
    values: dict[str, Any] = {
        "name": name,
        "category": category,
        "honours": split_list(honours) if isinstance(honours, str) else [str(h)[:60] for h in honours][:20],
        "topics": split_list(topics) if isinstance(topics, str) else [str(t)[:60] for t in topics][:20],
        "work_unit": str(form.get("work_unit") or "").strip(),
        "bio": str(form.get("bio") or "").strip(),
    }
    if len(values["work_unit"]) > 120:
        errors["work_unit"] = "工作单位不超过 120 个字"
    if len(values["bio"]) > 5000:
        errors["bio"] = "简介不超过 5000 个字"
    if allow_link:
        raw = str(form.get("user_id") or "").strip()
        if raw and not is_digits(raw):
            errors["user_id"] = "关联账号编号应为数字"
        values["user_id"] = int(raw) if is_digits(raw) else None
    return values, errors


def search_text_of(lecturer: Lecturer) -> str:
    return build_search_text([lecturer.name, *lecturer.honours, *lecturer.topics, lecturer.work_unit],
                             [lecturer.bio])


def snapshot(lecturer: Lecturer) -> dict[str, Any]:
    return {k: getattr(lecturer, k) for k in (*EDITABLE, "photo_key")}


async def list_lecturers(db: AsyncSession, *, category: str | None, q: str, page: int,
                         per_page: int = 24) -> Page:
    query = normalise_query(q)
    where = []
    if category in LecturerCategory.__members__:
        where.append(col(Lecturer.category) == LecturerCategory(category))
    if query:
        where.append(or_(col(Lecturer.search_text).contains(query, autoescape=True),
                         func.word_similarity(query, Lecturer.search_text) > 0.5))
    total = (await db.exec(select(func.count()).select_from(Lecturer).where(*where))).one()
    rows = (await db.exec(select(Lecturer).where(*where).order_by(col(Lecturer.category), col(Lecturer.id))
                          .offset((page - 1) * per_page).limit(per_page))).all()
    return Page(list(rows), page, per_page, total)


async def lecturers_by_category(db: AsyncSession, *, per_category: int = 8) -> dict[str, list[Lecturer]]:
    """A few lecturers of each category for the home page, in one query."""
    ranked = select(Lecturer.id, func.row_number().over(partition_by=Lecturer.category,
                                                        order_by=Lecturer.id).label("n")).subquery()
    rows = (await db.exec(select(Lecturer).join(ranked, ranked.c.id == Lecturer.id)
                          .where(ranked.c.n <= per_category).order_by(col(Lecturer.category), col(Lecturer.id)))).all()
    grouped: dict[str, list[Lecturer]] = {c.value: [] for c in CATEGORY_LABELS}
    for lecturer in rows:
        grouped[lecturer.category.value].append(lecturer)
    return grouped


async def get_lecturer(db: AsyncSession, lecturer_id: int) -> Lecturer:
    lecturer = await db.get(Lecturer, lecturer_id)
    if lecturer is None:
        raise NotFound("没有找到这位讲师")
    return lecturer


async def lecturer_for_user(db: AsyncSession, user_id: int) -> Lecturer | None:
    return (await db.exec(select(Lecturer).where(Lecturer.user_id == user_id))).first()


_LECTURES_GIVEN = text("""
SELECT count(*) FROM lecture_lecturer ll JOIN lecture l ON l.id = ll.lecture_id
WHERE ll.lecturer_id = :lecturer_id AND l.status = 'published'
""")


async def lecturer_stats(db: AsyncSession, lecturer_id: int) -> tuple[int, int]:
    """Published lectures given, and 人次 — the dashboard's own figure, so every page shows the same number."""
    lectures = (await db.exec(_LECTURES_GIVEN, params={"lecturer_id": lecturer_id})).one()[0]
    reach = (await reports.lecturer_person_times(db, [lecturer_id])).get(lecturer_id, 0)
    return int(lectures), reach


async def _check_link(db: AsyncSession, user_id: int | None, lecturer_id: int | None) -> None:
    if user_id is None:
        return
    if await db.get(User, user_id) is None:
        raise Invalid("关联的账号不存在", fields={"user_id": "没有这个账号"})
    taken = (await db.exec(select(Lecturer.id).where(Lecturer.user_id == user_id,
                                                      Lecturer.id != (lecturer_id or 0)))).first()
    if taken:
        raise Invalid("该账号已关联其他讲师", fields={"user_id": "该账号已关联其他讲师"})


async def save_lecturer(db: AsyncSession, *, actor: Actor, lecturer_id: int | None, values: dict[str, Any],
                        ip: str | None) -> Lecturer:
    """Create or update (values already cleaned); audited."""
    if "user_id" in values:
        await _check_link(db, values["user_id"], lecturer_id)
    if lecturer_id is None:
        lecturer = Lecturer(**values)
        before: dict[str, Any] = {}
    else:
        lecturer = await get_lecturer(db, lecturer_id)
        before = snapshot(lecturer)
        for key, value in values.items():
            setattr(lecturer, key, value)
        lecturer.updated_at = utcnow()
    lecturer.category = LecturerCategory(lecturer.category)
    lecturer.search_text = search_text_of(lecturer)
    db.add(lecturer)
    await db.flush()
    await record(db, actor_id=actor.user_id, action="lecturer.create" if lecturer_id is None else "lecturer.update",
                 target_type="lecturer", target_id=lecturer.id, before=before, after=snapshot(lecturer), ip=ip)
    return lecturer


async def set_photo(db: AsyncSession, *, actor: Actor, lecturer_id: int, key: str, ip: str | None) -> Lecturer:
    lecturer = await get_lecturer(db, lecturer_id)
    before = {"photo_key": lecturer.photo_key}
    lecturer.photo_key = key
    lecturer.updated_at = utcnow()
    db.add(lecturer)
    await record(db, actor_id=actor.user_id, action="lecturer.photo", target_type="lecturer", target_id=lecturer_id,
                 before=before, after={"photo_key": key}, ip=ip)
    return lecturer


async def delete_lecturer(db: AsyncSession, *, actor: Actor, lecturer_id: int, ip: str | None) -> None:
    lecturer = await get_lecturer(db, lecturer_id)
    await record(db, actor_id=actor.user_id, action="lecturer.delete", target_type="lecturer", target_id=lecturer_id,
                 before=snapshot(lecturer), ip=ip)
    await db.delete(lecturer)
