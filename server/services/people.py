"""People: validation of person fields, scoped listing and search, create/edit/deactivate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import end_all_sessions
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.ids import is_digits
from server.models.people import ROLE_LABELS, Role, Unit, User
from server.permissions import Actor, manages_unit, scope_prefix
from server.services import audit

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMPLOYEE_NO_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
PER_PAGE = 20


@dataclass(frozen=True)
class PersonInput:
    name: str
    phone: str | None
    employee_no: str | None
    unit_id: int | None
    roles: tuple[str, ...]


def field_problems(name: str, phone: str | None, employee_no: str | None) -> dict[str, str]:
    """Per-field Chinese problems with a person's identity fields (pure; shared with the importer)."""
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = "请填写姓名"
    elif len(name) > 50:
        problems["name"] = "姓名不能超过 50 字"
    if phone and not PHONE_RE.match(phone):
        problems["phone"] = "手机号应为 11 位数字"
    if employee_no and not EMPLOYEE_NO_RE.match(employee_no):
        problems["employee_no"] = "工号只能包含字母、数字、-、_、.（最多 40 位）"
    if not phone and not employee_no:
        problems["phone"] = "手机号和工号至少填写一项（用于登录）"
    return problems


def role_problem(actor: Actor, roles: set[str]) -> str | None:
    if not roles:
        return "请至少选择一个角色"
    unknown = roles - {r.value for r in Role}
    if unknown:
        return "角色无效"
    if Role.admin in roles and not actor.is_admin:
        return "单位管理员不能授予管理员角色"
    return None


def clean_input(actor: Actor, data: dict[str, Any]) -> PersonInput:
    name = " ".join(str(data.get("name") or "").split())
    phone = str(data.get("phone") or "").strip() or None
    employee_no = str(data.get("employee_no") or "").strip() or None
    roles = {str(r) for r in data.get("roles") or []}
    problems = field_problems(name, phone, employee_no)
    problem = role_problem(actor, roles)
    if problem:
        problems["roles"] = problem
    unit_id = data.get("unit_id")
    if unit_id in (None, ""):
        problems["unit_id"] = "请选择所属单位"
    elif not is_digits(str(unit_id)):
        problems["unit_id"] = "单位无效"
    if problems:
        raise Invalid("请检查填写的内容", fields=problems)
    ordered = tuple(r.value for r in Role if r.value in roles)
    return PersonInput(name, phone, employee_no, int(unit_id), ordered)  # type: ignore[arg-type]


def snapshot(user: User) -> dict[str, Any]:
    return {"name": user.name, "phone": user.phone, "employee_no": user.employee_no, "unit_id": user.unit_id,
            "roles": list(user.roles), "is_active": user.is_active}


def role_labels(roles: list[str]) -> str:
    return "、".join(ROLE_LABELS.get(Role(r), r) for r in roles if r in Role.__members__)


async def get_managed_person(db: AsyncSession, actor: Actor, person_id: int) -> User:
    """A person the actor may manage; outsiders look the same as missing people to unit admins."""
    row = (await db.exec(select(User, Unit.path).outerjoin(Unit, Unit.id == User.unit_id)
                         .where(User.id == person_id))).first()
    if row is None:
        raise NotFound("人员不存在")
    person, path = row
    if not manages_unit(actor, path):
        raise NotFound("人员不存在")
    if person.has_role(Role.admin) and not actor.is_admin:
        raise Forbidden("单位管理员不能管理管理员账号")
    return person


async def list_people(db: AsyncSession, actor: Actor, *, q: str = "", unit_id: int | None = None,
                      page: int = 1, per_page: int = PER_PAGE) -> tuple[list[tuple[User, str]], int]:
    """(person, unit path) rows matching the search within the actor's scope, and the total count."""
    query = select(User, Unit.path).outerjoin(Unit, Unit.id == User.unit_id)
    prefix = scope_prefix(actor)
    if prefix is not None:
        query = query.where(Unit.path.startswith(prefix))  # type: ignore[union-attr]
    if unit_id is not None:
        unit = await db.get(Unit, unit_id)
        query = query.where(Unit.path.startswith(unit.path if unit else "/none/"))  # type: ignore[union-attr]
    q = q.strip()[:50]
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.name.ilike(like), User.phone.startswith(q, autoescape=True),  # type: ignore[union-attr]
                                User.employee_no.ilike(like)))  # type: ignore[union-attr]
    total = (await db.exec(select(func.count()).select_from(query.subquery()))).one()
    page = max(1, page)
    rows = (await db.exec(query.order_by(User.id.desc()).offset((page - 1) * per_page)  # type: ignore[union-attr]
                          .limit(per_page))).all()
    return [(u, p or "") for u, p in rows], total


async def _check_unique(db: AsyncSession, data: PersonInput, person_id: int | None) -> None:
    fields: dict[str, str] = {}
    for column, value, label in ((User.phone, data.phone, "phone"), (User.employee_no, data.employee_no,
                                                                      "employee_no")):
        if value:
            other = (await db.exec(select(User.id).where(column == value))).first()
            if other is not None and other != person_id:
                fields[label] = "已被其他人员使用"
    if fields:
        raise Conflict("手机号或工号已被其他人员使用", fields=fields)


async def _check_unit(db: AsyncSession, actor: Actor, unit_id: int) -> None:
    unit = await db.get(Unit, unit_id)
    if unit is None:
        raise Invalid("单位不存在", fields={"unit_id": "单位不存在"})
    if not manages_unit(actor, unit.path):
        raise Forbidden("您无权管理该单位的人员", fields={"unit_id": "您无权管理该单位的人员"})


async def create_person(db: AsyncSession, actor: Actor, data: PersonInput, *, ip: str | None) -> User:
    await _check_unit(db, actor, data.unit_id)  # type: ignore[arg-type]
    await _check_unique(db, data, None)
    person = User(name=data.name, phone=data.phone, employee_no=data.employee_no, unit_id=data.unit_id,
                  roles=list(data.roles), must_change_password=True)
    db.add(person)
    await db.flush()
    await audit.record(db, actor_id=actor.user_id, action="person.create", target_type="person",
                       target_id=person.id, after=snapshot(person), ip=ip)
    return person


async def update_person(db: AsyncSession, actor: Actor, person_id: int, data: PersonInput, *,
                        ip: str | None) -> User:
    person = await get_managed_person(db, actor, person_id)
    await _check_unit(db, actor, data.unit_id)  # type: ignore[arg-type]
    await _check_unique(db, data, person.id)
    if person.id == actor.user_id and Role.admin in person.roles and Role.admin not in data.roles:
        raise Invalid("不能取消自己的管理员角色", fields={"roles": "不能取消自己的管理员角色"})
    before = snapshot(person)
    person.name, person.phone, person.employee_no = data.name, data.phone, data.employee_no
    person.unit_id, person.roles = data.unit_id, list(data.roles)
    db.add(person)
    await db.flush()
    await audit.record(db, actor_id=actor.user_id, action="person.update", target_type="person",
                       target_id=person.id, before=before, after=snapshot(person), ip=ip)
    return person


async def set_active(db: AsyncSession, actor: Actor, person_id: int, *, active: bool, ip: str | None) -> User:
    person = await get_managed_person(db, actor, person_id)
    if person.id == actor.user_id and not active:
        raise Invalid("不能停用自己的账号")
    before = snapshot(person)
    person.is_active = active
    db.add(person)
    if not active:
        await end_all_sessions(db, person.id)  # type: ignore[arg-type]
    await audit.record(db, actor_id=actor.user_id, action="person.activate" if active else "person.deactivate",
                       target_type="person", target_id=person.id, before=before, after=snapshot(person), ip=ip)
    return person
