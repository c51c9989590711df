"""Benchmark: import 10,000 generated members (XLSX) through the real parse → plan → apply path.

Usage: .venv/bin/python bench/import_members.py
(JIANGTANG_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres, names the server.)
Creates and drops a scratch database; prints rows/s and, last, a JSON line.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid

import psycopg
from openpyxl import Workbook

from server import migrate
from server.db import make_engine, make_session_factory, transaction, with_database
from server.models.people import Role, Unit, User
from server.permissions import Actor
from server.services import member_import, member_sheet

ROWS = 10_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def generate() -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人员")
    ws.append(["姓名", "手机号", "工号", "单位", "角色"])
    for i in range(ROWS):
        name = SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + GIVEN[(i // 400) % 20]
        ws.append([name, f"139{i:08d}", f"B{i:06d}", f"区总工会/第{i % 10 + 1}厂工会/{i % 7 + 1}车间",
                   "职工" if i % 50 else "职工,讲师"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def run(url: str) -> dict[str, float]:
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    async with transaction(sessions) as db:
        root = Unit(name="区总工会")
        db.add(root)
        await db.flush()
        root.path = f"/{root.id}/"
        admin = User(name="管理员", employee_no="admin", unit_id=root.id, roles=[Role.admin.value])
        db.add(admin)
        await db.flush()
        actor = Actor(admin.id or 0, frozenset(admin.roles), root.path)
    data = generate()
    started = time.perf_counter()
    rows = member_sheet.read_rows(data, "bench.xlsx")
    parsed = time.perf_counter()
    async with transaction(sessions) as db:
        plan = await member_import.apply(db, actor, rows, auto_create_units=True, expected=None,
                                         filename="bench.xlsx", ip=None)
    seconds = time.perf_counter() - started
    await engine.dispose()
    assert plan.count("create") == ROWS, plan.errors[:3]
    print(f"parse {parsed - started:.2f} s, plan+write {seconds - (parsed - started):.2f} s")
    print(f"{ROWS / seconds:.0f} rows/s")
    return {"rows": ROWS, "seconds": round(seconds, 3), "rows_per_s": round(ROWS / seconds, 1)}


def main() -> None:
    admin_url = os.environ.get("JIANGTANG_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"jt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = with_database(admin_url, name)
        migrate.upgrade(url)
        result = asyncio.run(run(url))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result))


if __name__ == "__main__":
    main()
