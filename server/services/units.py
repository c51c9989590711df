"""The member-unit tree: listing within a scope, create, rename, move (re-parent) and delete."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models.people import Unit, User
from server.permissions import Actor, manages_unit, scope_prefix
from server.services import audit

MAX_NAME = 100


@dataclass(frozen=True)
class UnitRow:
    id: int
    name: str
    parent_id: int | None
    path: str
    depth: int
    full_name: str
    people: int


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Invalid("请填写单位名称", fields={"name": "请填写单位名称"})
    if len(name) > MAX_NAME or "/" in name:
        raise Invalid("单位名称过长或含有“/”", fields={"name": f"不超过 {MAX_NAME} 字，且不能含有“/”"})
    return name


def full_names(units: list[Unit]) -> dict[int, str]:
    """"区总工会/某厂工会/一车间" for each unit, from the materialised paths."""
    by_id = {u.id: u.name for u in units}
    names: dict[int, str] = {}
    for u in units:
        ids = [int(p) for p in u.path.strip("/").split("/") if p]
        names[u.id] = "/".join(by_id.get(i, "?") for i in ids)  # type: ignore[index]
    return names


async def all_units(db: AsyncSession) -> list[Unit]:
    return list((await db.exec(select(Unit).order_by(Unit.path))).all())


async def tree(db: AsyncSession, actor: Actor) -> list[UnitRow]:
    """The units the actor may see, depth-first, with head counts (one query each)."""
    units = await all_units(db)
    names = full_names(units)
    prefix = scope_prefix(actor)
    counts = dict((await db.exec(
        select(User.unit_id, func.count()).where(User.is_active).group_by(User.unit_id))).all())
    visible = [u for u in units if prefix is None or u.path.startswith(prefix)]
    by_id = {u.id: u.name for u in units}
    # Depth-first, siblings by name: compare the (name, id) chain from the root down.
    ordered = sorted(visible, key=lambda u: [(by_id.get(int(i), ""), int(i)) for i in u.path.strip("/").split("/")])
    return [UnitRow(u.id, u.name, u.parent_id, u.path, u.path.count("/") - 2, names[u.id],  # type: ignore[arg-type]
                    counts.get(u.id, 0)) for u in ordered]


async def get_managed(db: AsyncSession, actor: Actor, unit_id: int) -> Unit:
    unit = await db.get(Unit, unit_id)
    if unit is None:
        raise NotFound("单位不存在")
    if not manages_unit(actor, unit.path):
        raise Forbidden("您无权管理该单位")
    return unit


def _snapshot(unit: Unit) -> dict[str, object]:
    return {"name": unit.name, "parent_id": unit.parent_id, "path": unit.path}


async def create(db: AsyncSession, actor: Actor, *, name: str, parent_id: int | None, ip: str | None) -> Unit:
    name = clean_name(name)
    if parent_id is None:
        if not actor.is_admin:
            raise Forbidden("只有管理员可以创建顶级单位")
        parent_path = "/"
    else:
        parent_path = (await get_managed(db, actor, parent_id)).path
    unit = Unit(name=name, parent_id=parent_id)
    db.add(unit)
    await db.flush()
    unit.path = f"{parent_path}{unit.id}/"
    await db.flush()
    await audit.record(db, actor_id=actor.user_id, action="unit.create", target_type="unit", target_id=unit.id,
                       after=_snapshot(unit), ip=ip)
    return unit


async def rename(db: AsyncSession, actor: Actor, unit_id: int, *, name: str, ip: str | None) -> Unit:
    unit = await get_managed(db, actor, unit_id)
    before = _snapshot(unit)
    unit.name = clean_name(name)
    db.add(unit)
    await audit.record(db, actor_id=actor.user_id, action="unit.rename", target_type="unit", target_id=unit.id,
                       before=before, after=_snapshot(unit), ip=ip)
    return unit


def move_problem(unit_path: str, new_parent_path: str) -> str | None:
    """Why a unit cannot go under a new parent, or None. Pure, so the rule is tested directly."""
    if new_parent_path.startswith(unit_path):
        return "不能把单位移动到它自己或它的下级单位之下"
    return None


async def move(db: AsyncSession, actor: Actor, unit_id: int, *, parent_id: int, ip: str | None) -> Unit:
    # Lock the tree for the move so two concurrent moves cannot create a cycle between them.
    await db.exec(text("LOCK TABLE unit IN SHARE ROW EXCLUSIVE MODE"))
    unit = await get_managed(db, actor, unit_id)
    if unit.path == actor.unit_path and not actor.is_admin:
        raise Forbidden("不能移动您自己所在的单位")
    parent = await get_managed(db, actor, parent_id)
    problem = move_problem(unit.path, parent.path)
    if problem:
        raise Invalid(problem, fields={"parent_id": problem})
    before = _snapshot(unit)
    old_prefix, new_prefix = unit.path, f"{parent.path}{unit.id}/"
    # The whole subtree's paths in one statement: swap the old prefix for the new one.
    await db.exec(text("UPDATE unit SET path = :new || substr(path, length(:old) + 1), "
                          "parent_id = CASE WHEN id = :id THEN :parent ELSE parent_id END "
                          "WHERE path LIKE :old || '%'"),
                  params={"new": new_prefix, "old": old_prefix, "id": unit.id, "parent": parent.id})
    await db.refresh(unit)
    await audit.record(db, actor_id=actor.user_id, action="unit.move", target_type="unit", target_id=unit.id,
                       before=before, after=_snapshot(unit), ip=ip)
    return unit


async def delete(db: AsyncSession, actor: Actor, unit_id: int, *, ip: str | None) -> None:
    unit = await get_managed(db, actor, unit_id)
    if unit.path == actor.unit_path and not actor.is_admin:
        raise Forbidden("不能删除您自己所在的单位")
    children = (await db.exec(select(func.count()).select_from(Unit).where(Unit.parent_id == unit.id))).one()
    people = (await db.exec(select(func.count()).select_from(User).where(User.unit_id == unit.id))).one()
    if children or people:
        raise Conflict(f"该单位下还有 {children} 个下级单位、{people} 名人员，清空后才能删除")
    before = _snapshot(unit)
    await db.delete(unit)
    await audit.record(db, actor_id=actor.user_id, action="unit.delete", target_type="unit", target_id=unit_id,
                       before=before, ip=ip)
