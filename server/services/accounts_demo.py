"""Demo people: a unit tree (区总工会 → 3 基层工会 → 车间/班组), ~30 workers, a unit admin and a lecturer.

Every demo account's password is DEMO_PASSWORD and, for demo accounts only, needs no change at first
sign-in. Sign in with any phone or 工号 listed in DEMO_LOGINS. Loading twice adds nothing.
"""

from __future__ import annotations

from sqlmodel import select

from server.db import transaction
from server.models.people import Role, Unit, User
from server.runtime import Runtime
from server.security import hash_password
from server.services.bootstrap import ensure_root_unit

DEMO_PASSWORD = "demo2026!"  # noqa: S105 — published demo credentials
ROOT_NAME = "区总工会"
TREE = {
    "机械厂工会": ["一车间", "二车间", "装配班组"],
    "纺织厂工会": ["织造车间", "印染车间"],
    "公交公司工会": ["第一车队", "维修班组"],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "卫东", "丽华", "国庆", "红梅", "德明"]
DEMO_LOGINS = {
    "单位管理员（机械厂工会）": "13900000001 或 工号 D0001",
    "讲师": "13900000002 或 工号 D0002",
    "职工": "13900000010 或 工号 D0010（等 30 人）",
}


def _people(units: dict[str, Unit]) -> list[tuple[str, str, str, Unit, list[str]]]:
    shops = [units[s] for children in TREE.values() for s in children]
    rows = [("陈立新", "13900000001", "D0001", units["机械厂工会"], [Role.worker.value, Role.unit_admin.value]),
            ("韩立军", "13900000002", "D0002", units["一车间"], [Role.worker.value, Role.lecturer.value])]
    for i in range(30):
        name = SURNAMES[i] + GIVEN[i % len(GIVEN)]
        rows.append((name, f"139000000{i + 10:02d}", f"D{i + 10:04d}", shops[i % len(shops)], [Role.worker.value]))
    return rows


async def load(runtime: Runtime) -> None:
    root = await ensure_root_unit(runtime, ROOT_NAME)
    hashed = hash_password(DEMO_PASSWORD)  # one hash for all: the demo password is public anyway
    async with transaction(runtime.sessions) as db:
        if root.name == "总工会":  # the first-run default becomes the demo's district federation
            root.name = ROOT_NAME
            db.add(root)
        existing = {(u.parent_id, u.name): u for u in (await db.exec(select(Unit))).all()}
        units: dict[str, Unit] = {}

        async def unit(name: str, parent: Unit) -> Unit:
            found = existing.get((parent.id, name))
            if found is None:
                found = Unit(name=name, parent_id=parent.id)
                db.add(found)
                await db.flush()
                found.path = f"{parent.path}{found.id}/"
                await db.flush()
            return found

        for union, shops in TREE.items():
            units[union] = await unit(union, root)
            for shop in shops:
                units[shop] = await unit(shop, units[union])
        phones = set((await db.exec(select(User.phone).where(User.phone.is_not(None)))).all())  # type: ignore[union-attr]
        for name, phone, employee_no, home, roles in _people(units):
            if phone not in phones:
                db.add(User(name=name, phone=phone, employee_no=employee_no, unit_id=home.id, roles=roles,
                            password_hash=hashed, must_change_password=False))
