"""On-site check-in for offline lectures: QR scans, the admin roster fallback, walk-ins and undo.

Who may run a lecture's check-in (projector, roster, undo, walk-ins): admins for every offline lecture;
a unit admin when the lecture is aimed at everyone or at least one target unit lies inside their subtree
or above it (a lecture for the whole union reaches their people too). A unit admin only ever sees, checks
in, undoes or adds people of their own subtree; the projector's head count is the room's total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.ids import is_digits
from server.models.attendance import CheckIn, CheckInMethod
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.people import Role, Unit, User
from server.permissions import Actor, manages_unit, scope_prefix
from server.rules.checkin_token import WindowState, checkin_window
from server.services.audit import record

PHONE = re.compile(r"^1\d{10}$")
WINDOW_MESSAGES = {
    WindowState.not_yet: "签到尚未开始",
    WindowState.closed: "签到已结束",
}


async def offline_lecture(db: AsyncSession, lecture_id: int) -> Lecture:
    lecture = await db.get(Lecture, lecture_id)
    if lecture is None or lecture.kind != LectureKind.offline or lecture.status != LectureStatus.published:
        raise NotFound("没有找到这场线下讲座")
    return lecture


def window_state(lecture: Lecture, now: datetime) -> WindowState:
    window = checkin_window(starts_at=lecture.starts_at, ends_at=lecture.ends_at,
                            opens_min=lecture.checkin_opens_min, closes_min=lecture.checkin_closes_min)
    return window.state(now) if window else WindowState.closed


async def can_run(db: AsyncSession, actor: Actor, lecture: Lecture) -> bool:
    if actor.is_admin:
        return True
    if not actor.has(Role.unit_admin) or not actor.unit_path:
        return False
    if not lecture.target_unit_ids:
        return True
    paths = (await db.exec(select(Unit.path).where(col(Unit.id).in_(lecture.target_unit_ids)))).all()
    return any(p.startswith(actor.unit_path) or actor.unit_path.startswith(p) for p in paths)


async def require_runner(db: AsyncSession, actor: Actor, lecture_id: int) -> Lecture:
    lecture = await offline_lecture(db, lecture_id)
    if not await can_run(db, actor, lecture):
        raise Forbidden("您不能管理这场讲座的签到")
    return lecture


@dataclass(frozen=True)
class Outcome:
    checkin: CheckIn
    created: bool


async def check_in(db: AsyncSession, *, lecture: Lecture, user: User, method: CheckInMethod, now: datetime,
                   by_user_id: int | None = None, detail: dict[str, Any] | None = None) -> Outcome:
    """Check a person in once; a second attempt returns the existing record (idempotent, race-safe)."""
    stmt = insert(CheckIn).values(lecture_id=lecture.id, user_id=user.id, unit_id=user.unit_id, method=method,
                                  by_user_id=by_user_id, at=now, detail=detail or {})
    new_id = (await db.exec(stmt.on_conflict_do_nothing(  # type: ignore[call-overload]
        constraint="uq_checkin_lecture_user").returning(CheckIn.id))).scalar_one_or_none()
    existing = (await db.exec(select(CheckIn).where(CheckIn.lecture_id == lecture.id,
                                                   CheckIn.user_id == user.id))).one()
    return Outcome(existing, new_id is not None)


async def self_check_in(db: AsyncSession, *, lecture: Lecture, user: User, now: datetime) -> Outcome:
    existing = await find(db, lecture_id=lecture.id or 0, user_id=user.id or 0)
    if existing is not None:
        return Outcome(existing, False)
    state = window_state(lecture, now)
    if state is not WindowState.open:
        raise Conflict(WINDOW_MESSAGES[state], code=f"window_{state.value}")
    return await check_in(db, lecture=lecture, user=user, method=CheckInMethod.qr, now=now)


async def find(db: AsyncSession, *, lecture_id: int, user_id: int) -> CheckIn | None:
    return (await db.exec(select(CheckIn).where(CheckIn.lecture_id == lecture_id,
                                               CheckIn.user_id == user_id))).first()


async def count(db: AsyncSession, lecture_id: int) -> int:
    return (await db.exec(select(func.count()).select_from(CheckIn)
                          .where(CheckIn.lecture_id == lecture_id))).one()


async def _target_paths(db: AsyncSession, lecture: Lecture, actor: Actor) -> list[str]:
    """Unit-path prefixes whose people the actor may check in for this lecture (targets ∩ actor scope)."""
    if lecture.target_unit_ids:
        paths = list((await db.exec(select(Unit.path).where(col(Unit.id).in_(lecture.target_unit_ids)))).all())
    else:
        paths = ["/"]
    prefix = scope_prefix(actor)
    if prefix is None:
        return paths
    # Within a target above the actor's unit, only the actor's subtree; targets inside it stay as they are.
    return sorted({prefix if prefix.startswith(p) else p for p in paths
                   if p.startswith(prefix) or prefix.startswith(p)})


async def roster(db: AsyncSession, *, actor: Actor, lecture: Lecture, q: str, limit: int, offset: int
                 ) -> tuple[list[dict[str, Any]], int]:
    """People the actor may check in for this lecture, matching ``q`` (name, phone or 工号), with their state."""
    paths = await _target_paths(db, lecture, actor)
    if not paths:
        return [], 0
    query = (select(User, Unit.name, CheckIn).join(Unit, col(Unit.id) == User.unit_id)
             .outerjoin(CheckIn, (CheckIn.user_id == User.id) & (CheckIn.lecture_id == lecture.id))
             .where(User.is_active, or_(*[col(Unit.path).startswith(p) for p in paths])))
    needle = q.strip()[:50]
    if needle:
        like = f"%{needle}%"
        query = query.where(or_(col(User.name).ilike(like), col(User.phone).startswith(needle),
                                col(User.employee_no).ilike(like)))
    total = (await db.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (await db.exec(query.order_by(col(CheckIn.id).is_not(None), User.name, User.id)
                          .limit(limit).offset(offset))).all()
    return [{"user": u, "unit_name": n, "checkin": c} for u, n, c in rows], total


async def roster_check_in(db: AsyncSession, *, actor: Actor, lecture: Lecture, user_id: int, now: datetime,
                          ip: str | None) -> Outcome:
    user = await db.get(User, user_id)
    unit = await db.get(Unit, user.unit_id) if user and user.unit_id else None
    paths = await _target_paths(db, lecture, actor)
    if user is None or not user.is_active or unit is None or not any(unit.path.startswith(p) for p in paths):
        raise NotFound("名单中没有这个人")
    outcome = await check_in(db, lecture=lecture, user=user, method=CheckInMethod.roster, now=now,
                             by_user_id=actor.user_id)
    if outcome.created:
        await record(db, actor_id=actor.user_id, action="checkin.roster", target_type="checkin",
                     target_id=outcome.checkin.id, after={"lecture_id": lecture.id, "user_id": user.id}, ip=ip)
    return outcome


async def undo(db: AsyncSession, *, actor: Actor, lecture: Lecture, checkin_id: int, ip: str | None) -> None:
    entry = await db.get(CheckIn, checkin_id)
    if entry is None or entry.lecture_id != lecture.id:
        raise NotFound("签到记录不存在或已撤销")
    unit_path = (await db.get(Unit, entry.unit_id)).path if entry.unit_id else None  # type: ignore[union-attr]
    if not manages_unit(actor, unit_path):
        raise Forbidden("只能撤销本单位人员的签到")
    await record(db, actor_id=actor.user_id, action="checkin.undo", target_type="checkin", target_id=entry.id,
                 before={"lecture_id": entry.lecture_id, "user_id": entry.user_id, "unit_id": entry.unit_id,
                         "method": entry.method, "at": entry.at}, ip=ip)
    await db.delete(entry)


def clean_walk_in(name: str, phone: str, unit_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Walk-in form → values and Chinese field errors (pure)."""
    errors: dict[str, str] = {}
    name, phone = name.strip(), re.sub(r"[\s-]", "", phone)
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > 50:
        errors["name"] = "姓名不超过 50 个字"
    if not PHONE.match(phone):
        errors["phone"] = "请填写 11 位手机号"
    if not is_digits(unit_id):
        errors["unit_id"] = "请选择单位"
    return {"name": name, "phone": phone, "unit_id": int(unit_id) if is_digits(unit_id) else 0}, errors


async def walk_in(db: AsyncSession, *, actor: Actor, lecture: Lecture, name: str, phone: str, unit_id: int,
                  now: datetime, ip: str | None) -> Outcome:
    """Add a person not yet in the system (no password: they activate later by phone) and check them in."""
    unit = await db.get(Unit, unit_id)
    paths = await _target_paths(db, lecture, actor)
    if unit is None or not any(unit.path.startswith(p) for p in paths):
        raise Invalid("请选择本场讲座面向的单位", fields={"unit_id": "单位不在可签到范围内"})
    existing = (await db.exec(select(User).where(User.phone == phone))).first()
    if existing is not None:
        raise Conflict(f"手机号已登记为“{existing.name}”，请在名单中搜索后签到", fields={"phone": "该手机号已登记"})
    user = User(name=name, phone=phone, unit_id=unit.id, roles=[Role.worker.value], must_change_password=True)
    db.add(user)
    await db.flush()
    await record(db, actor_id=actor.user_id, action="person.walk_in", target_type="person", target_id=user.id,
                 after={"name": name, "phone": phone, "unit_id": unit.id, "lecture_id": lecture.id}, ip=ip)
    return await check_in(db, lecture=lecture, user=user, method=CheckInMethod.walk_in, now=now,
                          by_user_id=actor.user_id)


async def units_for_walk_in(db: AsyncSession, *, actor: Actor, lecture: Lecture) -> list[Unit]:
    paths = await _target_paths(db, lecture, actor)
    if not paths:
        return []
    return list((await db.exec(select(Unit).where(or_(*[col(Unit.path).startswith(p) for p in paths]))
                               .order_by(Unit.path).limit(500))).all())

