"""Bulk member import: plan every row against the database (pure), then apply the plan set-based.

The preview and the commit run the same planning; the commit re-plans inside its transaction (under
an advisory lock) and refuses if the result differs from what the admin previewed. Imported people
get no password: see server/services/accounts.py for how initial passwords are issued.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, or_, text, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Conflict
from server.models.base import utcnow
from server.models.people import ROLE_LABELS, Role, Unit, User
from server.permissions import Actor, manages_unit
from server.services import audit
from server.services.member_sheet import SheetRow
from server.services.people import field_problems
from server.services.units import all_units, full_names

LABEL_ROLES = {label: role.value for role, label in ROLE_LABELS.items()} | {r.value: r.value for r in Role}
ROLE_SPLIT = re.compile(r"[,，、;；/\s]+")
COLUMN_LABELS = {"name": "姓名", "phone": "手机号", "employee_no": "工号", "unit": "单位", "roles": "角色"}
IMPORT_LOCK = 715_001  # advisory lock key: one import at a time


@dataclass(frozen=True)
class Existing:
    id: int
    name: str
    phone: str | None
    employee_no: str | None
    unit_id: int | None
    unit_path: str | None
    roles: tuple[str, ...]


@dataclass
class RowPlan:
    number: int
    values: dict[str, str]
    action: str = "create"  # create | update | unchanged | error
    errors: list[tuple[str, str]] = field(default_factory=list)
    target: Existing | None = None
    unit: str = ""  # full unit name, e.g. 区总工会/某厂工会/一车间
    roles: tuple[str, ...] = ()


@dataclass
class Plan:
    rows: list[RowPlan]
    new_units: list[str]  # full names, parents before children

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    @property
    def errors(self) -> list[RowPlan]:
        return [r for r in self.rows if r.errors]

    def signature(self) -> str:
        return f"{self.count('create')}-{self.count('update')}-{len(self.new_units)}"


def normalise_phone(raw: str) -> str:
    phone = re.sub(r"[\s\-()（）]", "", raw)
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    return phone


def unit_name(raw: str) -> str:
    return "/".join(p.strip() for p in raw.replace("／", "/").split("/") if p.strip())


def parse_roles(raw: str) -> tuple[tuple[str, ...], str | None]:
    labels = [p for p in ROLE_SPLIT.split(raw.strip()) if p]
    if not labels:
        return (Role.worker.value,), None
    unknown = [p for p in labels if p not in LABEL_ROLES]
    if unknown:
        return (), "无法识别的角色：" + "、".join(unknown) + "（可填：职工、讲师、单位管理员、管理员）"
    chosen = {LABEL_ROLES[p] for p in labels}
    return tuple(r.value for r in Role if r.value in chosen), None


def plan_rows(rows: list[SheetRow], actor: Actor, *, units: dict[str, tuple[int, str]],
              people: list[Existing], auto_create_units: bool) -> Plan:
    """Decide, for every row, create/update/unchanged or the reasons it cannot be imported. No I/O.

    ``units`` maps full unit names to (id, path); ``people`` are the existing people any row may match.
    """
    by_emp = {p.employee_no: p for p in people if p.employee_no}
    by_phone = {p.phone: p for p in people if p.phone}
    plans = [RowPlan(r.number, r.values) for r in rows]
    new_units: dict[str, None] = {}
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for plan in plans:
        v = plan.values
        v["name"] = " ".join(v.get("name", "").split())
        v["phone"] = normalise_phone(v.get("phone", ""))
        v["employee_no"] = v.get("employee_no", "").strip()
        for column, reason in field_problems(v["name"], v["phone"] or None, v["employee_no"] or None).items():
            plan.errors.append((column, reason))
        for column in ("phone", "employee_no"):
            if v[column]:
                seen[(column, v[column].lower())].append(plan.number)
        plan.roles, problem = parse_roles(v.get("roles", ""))
        if problem:
            plan.errors.append(("roles", problem))
        elif Role.admin in plan.roles and not actor.is_admin:
            plan.errors.append(("roles", "单位管理员不能授予管理员角色"))
        plan.unit = unit_name(v.get("unit", ""))
        _plan_unit(plan, actor, units, new_units, auto_create_units)
        _match(plan, actor, by_emp, by_phone)
    for plan in plans:
        for column in ("phone", "employee_no"):
            numbers = seen.get((column, plan.values[column].lower()), [])
            if len(numbers) > 1:
                others = "、".join(str(n) for n in numbers if n != plan.number)
                plan.errors.append((column, f"{COLUMN_LABELS[column]}在文件中重复（另见第 {others} 行）"))
    targets: dict[int, list[int]] = defaultdict(list)
    for plan in plans:
        if plan.target and not plan.errors:
            targets[plan.target.id].append(plan.number)
    for plan in plans:
        if plan.target and len(targets.get(plan.target.id, [])) > 1:
            plan.errors.append(("employee_no", "多行对应同一人员（第 " + "、".join(map(str, targets[plan.target.id]))
                                + " 行）"))
    for plan in plans:
        plan.action = "error" if plan.errors else _action(plan, units)
    used = {p.unit for p in plans if p.action != "error"}
    wanted = [u for u in new_units if any(x == u or x.startswith(u + "/") for x in used)]
    return Plan(plans, wanted)


def _plan_unit(plan: RowPlan, actor: Actor, units: dict[str, tuple[int, str]], new_units: dict[str, None],
               auto_create: bool) -> None:
    if not plan.unit:
        plan.errors.append(("unit", "请填写单位（如：区总工会/某厂工会/一车间）"))
        return
    if plan.unit in units:
        if not manages_unit(actor, units[plan.unit][1]):
            plan.errors.append(("unit", "您无权管理该单位"))
        return
    if not auto_create:
        plan.errors.append(("unit", f"单位不存在：{plan.unit}（可勾选“自动创建不存在的单位”）"))
        return
    parts = plan.unit.split("/")
    existing = next((p for i in range(len(parts) - 1, 0, -1) if (p := "/".join(parts[:i])) in units), None)
    if existing is None and not actor.is_admin:
        plan.errors.append(("unit", "只有管理员可以创建顶级单位"))
    elif existing is not None and not manages_unit(actor, units[existing][1]):
        plan.errors.append(("unit", f"您无权在“{existing}”下创建单位"))
    elif any(len(p) > 100 for p in parts):
        plan.errors.append(("unit", "单位名称过长"))
    else:
        start = len(existing.split("/")) if existing else 0
        for i in range(start + 1, len(parts) + 1):
            new_units.setdefault("/".join(parts[:i]))


def _match(plan: RowPlan, actor: Actor, by_emp: dict[str, Existing], by_phone: dict[str, Existing]) -> None:
    emp, phone = plan.values["employee_no"], plan.values["phone"]
    target = by_emp.get(emp) if emp else None
    other = by_phone.get(phone) if phone else None
    if target and other and other.id != target.id:
        plan.errors.append(("phone", f"手机号已被其他人员（{other.name}）使用"))
    target = target or other
    if target is None:
        return
    if not manages_unit(actor, target.unit_path):
        plan.errors.append(("employee_no", "该人员属于您无权管理的单位"))
    elif Role.admin in target.roles and not actor.is_admin:
        plan.errors.append(("roles", "单位管理员不能修改管理员账号"))
    plan.target = target


def _action(plan: RowPlan, units: dict[str, tuple[int, str]]) -> str:
    t = plan.target
    if t is None:
        return "create"
    v = plan.values
    same = (t.name == v["name"] and (t.phone or "") == v["phone"] and (t.employee_no or "") == v["employee_no"]
            and plan.unit in units and units[plan.unit][0] == t.unit_id and set(t.roles) == set(plan.roles))
    return "unchanged" if same else "update"


async def load_context(db: AsyncSession, rows: list[SheetRow]) -> tuple[dict[str, tuple[int, str]], list[Existing]]:
    """The units (by full name) and the existing people the rows could match — two queries."""
    units = await all_units(db)
    names = full_names(units)
    by_name = {names[u.id]: (u.id, u.path) for u in units}  # type: ignore[index]
    phones = sorted({normalise_phone(r.values.get("phone", "")) for r in rows} - {""})
    emps = sorted({r.values.get("employee_no", "").strip() for r in rows} - {""})
    found = (await db.exec(select(User, Unit.path).outerjoin(Unit, Unit.id == User.unit_id).where(
        or_(User.phone.in_(phones), User.employee_no.in_(emps))))).all()  # type: ignore[union-attr]
    people = [Existing(u.id, u.name, u.phone, u.employee_no, u.unit_id, path, tuple(u.roles))  # type: ignore[arg-type]
              for u, path in found]
    return by_name, people


async def preview(db: AsyncSession, actor: Actor, rows: list[SheetRow], *, auto_create_units: bool) -> Plan:
    units, people = await load_context(db, rows)
    return plan_rows(rows, actor, units=units, people=people, auto_create_units=auto_create_units)


async def apply(db: AsyncSession, actor: Actor, rows: list[SheetRow], *, auto_create_units: bool,
                expected: str | None, filename: str, ip: str | None) -> Plan:
    """Write every valid row in the caller's transaction; nothing is written if the plan changed since preview."""
    await db.exec(text("SELECT pg_advisory_xact_lock(:k)"), params={"k": IMPORT_LOCK})
    units, people = await load_context(db, rows)
    plan = plan_rows(rows, actor, units=units, people=people, auto_create_units=auto_create_units)
    if expected is not None and plan.signature() != expected:
        raise Conflict("预览之后数据发生了变化，请重新上传文件预览")
    unit_ids = {name: uid for name, (uid, _) in units.items()}
    paths = {name: path for name, (_, path) in units.items()}
    for name in plan.new_units:
        parent = name.rsplit("/", 1)[0] if "/" in name else None
        unit = Unit(name=name.rsplit("/", 1)[-1], parent_id=unit_ids[parent] if parent else None)
        db.add(unit)
        await db.flush()
        unit.path = f"{paths[parent] if parent else '/'}{unit.id}/"
        unit_ids[name], paths[name] = unit.id, unit.path  # type: ignore[assignment]
    await db.flush()
    now = utcnow()
    creates = [{"name": r.values["name"], "phone": r.values["phone"] or None,
                "employee_no": r.values["employee_no"] or None, "unit_id": unit_ids[r.unit],
                "roles": list(r.roles), "password_hash": None, "must_change_password": True,
                "is_active": True, "created_at": now} for r in plan.rows if r.action == "create"]
    updates = [{"b_id": r.target.id, "b_name": r.values["name"], "b_phone": r.values["phone"] or None,  # type: ignore[union-attr]
                "b_emp": r.values["employee_no"] or None, "b_unit": unit_ids[r.unit], "b_roles": list(r.roles)}
               for r in plan.rows if r.action == "update"]
    table = User.__table__  # type: ignore[attr-defined]
    if updates:
        await db.exec(update(table).where(table.c.id == bindparam("b_id"))  # type: ignore[call-overload]
                      .values(name=bindparam("b_name"), phone=bindparam("b_phone"), employee_no=bindparam("b_emp"),
                              unit_id=bindparam("b_unit"), roles=bindparam("b_roles")), params=updates)
    if creates:
        await db.exec(insert(table), params=creates)  # type: ignore[call-overload]
    await audit.record(db, actor_id=actor.user_id, action="person.import", target_type="import", target_id=filename,
                       after={"file": filename, "created": len(creates), "updated": len(updates),
                              "unchanged": plan.count("unchanged"), "skipped_rows": [r.number for r in plan.errors],
                              "units_created": plan.new_units,
                              "updated_people": [u["b_id"] for u in updates][:1000]}, ip=ip)
    return plan
