from __future__ import annotations

import httpx
from sqlmodel import select

from server.models.people import AuditEntry, Role, Unit
from server.runtime import Runtime
from server.services.units import move_problem
from tests.factories import make_unit, make_user, sign_in, with_csrf


def test_move_problem_refuses_own_subtree() -> None:
    assert move_problem("/1/4/", "/1/4/9/") is not None
    assert move_problem("/1/4/", "/1/4/") is not None
    assert move_problem("/1/4/", "/1/5/") is None
    assert move_problem("/1/4/", "/1/") is None


async def _paths(runtime: Runtime) -> dict[str, str]:
    async with runtime.sessions() as db:
        return {u.name: u.path for u in (await db.exec(select(Unit))).all()}


async def test_move_updates_whole_subtree_and_refuses_cycles(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    a = await make_unit(runtime, "机械厂工会", root)
    b = await make_unit(runtime, "纺织厂工会", root)
    shop = await make_unit(runtime, "一车间", a)
    team = await make_unit(runtime, "甲班", shop)
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    moved = await client.post(f"/admin/units/{shop.id}/move", data=with_csrf(client, {"parent_id": str(b.id)}))
    assert moved.status_code == 303
    paths = await _paths(runtime)
    assert paths["一车间"] == f"{b.path}{shop.id}/" and paths["甲班"] == f"{b.path}{shop.id}/{team.id}/"
    cycle = await client.post(f"/admin/units/{b.id}/move", data=with_csrf(client, {"parent_id": str(team.id)}))
    assert cycle.status_code == 422 and "下级单位" in cycle.text
    assert (await _paths(runtime))["纺织厂工会"] == b.path
    async with runtime.sessions() as db:
        entry = (await db.exec(select(AuditEntry).where(AuditEntry.action == "unit.move"))).one()
    assert entry.before["path"] == shop.path and entry.after["parent_id"] == b.id


async def test_delete_only_when_empty(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    full = await make_unit(runtime, "有人单位", root)
    empty = await make_unit(runtime, "空单位", root)
    await make_user(runtime, unit=full)
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    refused = await client.post(f"/admin/units/{full.id}/delete", data=with_csrf(client))
    assert refused.status_code == 409 and "1 名人员" in refused.text
    assert (await client.post(f"/admin/units/{empty.id}/delete", data=with_csrf(client))).status_code == 303
    assert set(await _paths(runtime)) == {"区总工会", "有人单位"}


async def test_unit_admin_sees_and_manages_only_subtree(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    mine = await make_unit(runtime, "机械厂工会", root)
    theirs = await make_unit(runtime, "纺织厂工会", root)
    await sign_in(client, runtime, await make_user(runtime, Role.unit_admin, unit=mine))
    units = (await client.get("/api/v1/units")).json()
    assert [u["name"] for u in units] == ["机械厂工会"]
    created = await client.post("/api/v1/units", json={"name": "二车间", "parent_id": mine.id})
    assert created.status_code == 201 and created.json()["path"].startswith(mine.path)
    assert (await client.post("/api/v1/units", json={"name": "X", "parent_id": theirs.id})).status_code == 403
    assert (await client.post("/api/v1/units", json={"name": "顶级"})).status_code == 403
    assert (await client.patch(f"/api/v1/units/{theirs.id}", json={"name": "改名"})).status_code == 403
    escape = await client.patch(f"/api/v1/units/{created.json()['id']}", json={"parent_id": theirs.id})
    assert escape.status_code == 403
