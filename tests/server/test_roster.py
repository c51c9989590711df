"""The roster: admin CRUD with audit, a lecturer's own profile, category filter, and 人次 reached."""

from __future__ import annotations

import httpx
from sqlmodel import select

from server.db import transaction
from server.models.attendance import CheckIn, CheckInMethod, WatchProgress
from server.models.base import utcnow
from server.models.people import AuditEntry, Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in, with_csrf
from tests.server.catalogue_fixtures import make_lecture, make_lecturer


async def test_admin_crud_is_validated_and_audited(runtime: Runtime, client: httpx.AsyncClient) -> None:
    admin = await make_user(runtime, Role.admin)
    await sign_in(client, runtime, admin)
    bad = await client.post("/admin/lecturers/new", data=with_csrf(client, {"name": "", "category": "x",
                                                                            "bio": "保留的简介"}))
    assert bad.status_code == 422 and "请填写姓名" in bad.text and "请选择类别" in bad.text and "保留的简介" in bad.text
    made = await client.post("/admin/lecturers/new", data=with_csrf(client, {
        "name": "周师傅", "category": "pioneer", "honours": "全国五一劳动奖章\n省劳动模范", "topics": "数控、质量"}))
    assert made.status_code == 303
    lid = made.headers["location"].split("/")[3].split("?")[0]
    page = await client.get(f"/lecturers/{lid}")
    assert "全国五一劳动奖章" in page.text and "行业先锋" in page.text and "<title>周师傅" in page.text
    assert (await client.post(f"/admin/lecturers/{lid}/delete", data=with_csrf(client))).status_code == 303
    assert (await client.get(f"/lecturers/{lid}")).status_code == 404
    async with runtime.sessions() as db:
        actions = (await db.exec(select(AuditEntry.action).where(AuditEntry.target_type == "lecturer"))).all()
    assert actions == ["lecturer.create", "lecturer.delete"]


async def test_lecturer_edits_own_profile_only(runtime: Runtime, make_client: object) -> None:
    admin = await make_user(runtime, Role.admin)
    me = await make_user(runtime, Role.lecturer)
    mine = await make_lecturer(runtime, admin, "吴老师", user=me)
    other = await make_lecturer(runtime, admin, "郑老师")
    c = await sign_in(make_client(), runtime, me)  # type: ignore[operator]
    saved = await c.post("/me/lecturer", data=with_csrf(c, {"name": "吴老师", "category": "theory", "bio": "新简介"}))
    assert saved.status_code == 303
    assert "新简介" in (await c.get(f"/lecturers/{mine.id}")).text
    body = {"name": "篡改", "category": "theory"}
    assert (await c.put(f"/api/v1/lecturers/{other.id}", json=body)).status_code == 403
    assert (await c.put(f"/api/v1/lecturers/{mine.id}", json={**body, "name": "吴老师"})).status_code == 200
    assert (await c.get("/admin/lecturers")).status_code == 403


async def test_category_filter_and_reach(runtime: Runtime, client: httpx.AsyncClient) -> None:
    admin = await make_user(runtime, Role.admin)
    star = await make_lecturer(runtime, admin, "冯劳模", category="model_worker")
    await make_lecturer(runtime, admin, "陈理论", category="theory")
    online = await make_lecture(runtime, admin, "线上课", lecturers=[star], publish_by=admin)
    offline = await make_lecture(runtime, admin, "线下课", lecturers=[star], publish_by=admin, kind="offline",
                                 venue_type="park", address="园区礼堂", starts_at="2030-01-01T09:00",
                                 ends_at="2030-01-01T10:00")
    await make_lecture(runtime, admin, "草稿课", lecturers=[star])
    people = [await make_user(runtime, Role.worker) for _ in range(3)]
    async with transaction(runtime.sessions) as db:
        for p in people[:2]:  # two completed online; one only started
            db.add(WatchProgress(user_id=p.id, lecture_id=online.id, completed_at=utcnow()))
        db.add(WatchProgress(user_id=people[2].id, lecture_id=online.id))
        for p in people:  # three checked in offline, one of them also counted online — still 1 per lecture
            db.add(CheckIn(lecture_id=offline.id, user_id=p.id, method=CheckInMethod.qr))
    await sign_in(client, runtime, admin)
    page = await client.get(f"/lecturers/{star.id}")
    assert '<span class="stat__value">2</span><span class="stat__label">讲座' in page.text
    assert '<span class="stat__value">5</span><span class="stat__label">人次' in page.text
    filtered = await client.get("/lecturers", params={"category": "theory"})
    assert "陈理论" in filtered.text and "冯劳模" not in filtered.text
    home = await client.get("/")
    assert "线上课" in home.text and "线下课" in home.text and "草稿课" not in home.text
