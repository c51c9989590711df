from __future__ import annotations

import io

import httpx
from openpyxl import load_workbook
from sqlmodel import select

from server.models.people import AuditEntry, Role, User
from server.runtime import Runtime
from server.services.member_export import escape_cell
from tests.factories import make_unit, make_user, sign_in, with_csrf


async def test_admin_creates_person_and_issues_one_time_password(client: httpx.AsyncClient, runtime: Runtime,
                                                                 make_client) -> None:  # type: ignore[no-untyped-def]
    root = await make_unit(runtime, "区总工会")
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    form = {"name": "赵六", "phone": "13912345678", "employee_no": "A100", "unit_id": str(root.id),
            "roles": ["worker", "lecturer"]}
    bad = await client.post("/admin/people/new", data=with_csrf(client, {**form, "phone": "123"}))
    assert bad.status_code == 422 and "11 位" in bad.text and "赵六" in bad.text
    created = await client.post("/admin/people/new", data=with_csrf(client, form))
    assert created.status_code == 303
    async with runtime.sessions() as db:
        person = (await db.exec(select(User).where(User.employee_no == "A100"))).one()
    assert person.roles == ["worker", "lecturer"] and person.password_hash is None
    dup = await client.post("/admin/people/new", data=with_csrf(client, {**form, "employee_no": "A101"}))
    assert dup.status_code == 409 and "已被其他人员使用" in dup.text
    reset = await client.post(f"/admin/people/{person.id}/reset-password", data=with_csrf(client))
    assert reset.headers["cache-control"] == "no-store"
    password = reset.text.split('data-testid="one-time-password">')[1].split("<")[0]
    worker = make_client()
    await worker.get("/login")
    login = await worker.post("/login", data={"login": "A100", "password": password,
                                              "csrf_token": worker.cookies["jt_csrf"]})
    assert login.headers["location"] == "/me/password"
    async with runtime.sessions() as db:
        actions = (await db.exec(select(AuditEntry.action))).all()
    assert {"person.create", "person.reset_password"} <= set(actions)


async def test_unit_admin_limits(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    mine = await make_unit(runtime, "机械厂工会", root)
    theirs = await make_unit(runtime, "纺织厂工会", root)
    outsider = await make_user(runtime, unit=theirs)
    boss = await make_user(runtime, Role.admin, unit=mine)
    await sign_in(client, runtime, await make_user(runtime, Role.unit_admin, unit=mine))
    body = {"name": "钱七", "phone": "13700000001", "unit_id": mine.id, "roles": ["admin"]}
    grant = await client.post("/api/v1/people", json=body)
    assert grant.status_code == 422 and "管理员" in grant.json()["fields"]["roles"]
    ok = await client.post("/api/v1/people", json={**body, "roles": ["worker", "unit_admin"]})
    assert ok.status_code == 201
    assert (await client.post("/api/v1/people", json={**body, "phone": "13700000002", "unit_id": theirs.id,
                                                   "roles": ["worker"]})
            ).status_code == 403
    assert (await client.get(f"/api/v1/people/{outsider.id}")).status_code == 404
    assert (await client.get(f"/api/v1/people/{boss.id}")).status_code == 403
    listed = (await client.get("/api/v1/people")).json()
    assert outsider.id not in {p["id"] for p in listed["items"]}


async def test_search_pagination_and_deactivate(client: httpx.AsyncClient, runtime: Runtime,
                                                make_client) -> None:  # type: ignore[no-untyped-def]
    root = await make_unit(runtime, "区总工会")
    people = [await make_user(runtime, unit=root, name=f"孙工{i:02d}") for i in range(23)]
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root, name="管理者"))
    page2 = (await client.get("/api/v1/people", params={"q": "孙工", "page": 2})).json()
    assert page2["total"] == 23 and len(page2["items"]) == 3
    by_phone = (await client.get("/api/v1/people", params={"q": people[5].phone})).json()
    assert [p["name"] for p in by_phone["items"]] == ["孙工05"]
    html = await client.get("/admin/people", params={"q": people[7].employee_no})
    assert "孙工07" in html.text and "孙工08" not in html.text
    victim = await sign_in(make_client(), runtime, people[0])
    off = await client.post(f"/admin/people/{people[0].id}/active", data=with_csrf(client, {"active": "0"}))
    assert off.status_code == 303
    assert (await victim.get("/me/profile")).status_code == 303


def test_escape_cell() -> None:
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert escape_cell(dangerous) == "'" + dangerous
    assert escape_cell("张三") == "张三" and escape_cell(None) == ""


async def test_export_escapes_formulas(client: httpx.AsyncClient, runtime: Runtime) -> None:
    root = await make_unit(runtime, "区总工会")
    await make_user(runtime, unit=root, name="=HYPERLINK(\"http://x\")")
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    r = await client.get("/admin/people/export.xlsx")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(r.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:4] == ("姓名", "手机号", "工号", "单位")
    assert "'=HYPERLINK(\"http://x\")" in {row[0] for row in rows[1:]}


async def test_profile_self_service(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime, name="周八")
    await sign_in(client, runtime, user)
    r = await client.post("/me/profile", data=with_csrf(client, {"name": "周 八八", "phone": "13811112222"}))
    assert r.status_code == 303
    me = (await client.get("/api/v1/me")).json()
    assert me["name"] == "周 八八" and me["phone"] == "13811112222"


async def test_demo_people_load_twice_and_sign_in(client: httpx.AsyncClient, runtime: Runtime) -> None:
    from server.services import accounts_demo

    await accounts_demo.load(runtime)
    await accounts_demo.load(runtime)
    async with runtime.sessions() as db:
        assert len((await db.exec(select(User))).all()) == 32
    await client.get("/login")
    r = await client.post("/login", data={"login": "D0001", "password": accounts_demo.DEMO_PASSWORD,
                                          "csrf_token": client.cookies["jt_csrf"]})
    assert r.headers["location"] == "/"
    names = [u["full_name"] for u in (await client.get("/api/v1/units")).json()]
    assert names[0] == "区总工会/机械厂工会"
    assert {n.rsplit("/", 1)[1] for n in names[1:]} == {"一车间", "二车间", "装配班组"}
