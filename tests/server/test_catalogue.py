"""The lecture workflow through the real app: every transition, who may take it, and what is recorded."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from server.models.catalogue import Lecture, LectureStatus, LectureTransition
from server.models.people import AuditEntry, Role
from server.runtime import Runtime
from tests.factories import make_user, sign_in, with_csrf
from tests.server.catalogue_fixtures import make_lecture, make_lecturer

S = LectureStatus


async def _status(runtime: Runtime, lecture_id: int) -> S:
    async with runtime.sessions() as db:
        lecture = await db.get(Lecture, lecture_id)
        assert lecture is not None
        return lecture.status


async def _act(client: httpx.AsyncClient, lecture_id: int, action: str, note: str = "") -> httpx.Response:
    return await client.post(f"/api/v1/lectures/{lecture_id}/transitions", json={"action": action, "note": note})


async def test_full_workflow_with_records(runtime: Runtime, make_client: object) -> None:
    admin = await make_user(runtime, Role.admin)
    author = await make_user(runtime, Role.lecturer)
    lecturer = await make_lecturer(runtime, admin, "王建国", user=author)
    a = await sign_in(make_client(), runtime, author)  # type: ignore[operator]
    b = await sign_in(make_client(), runtime, admin)  # type: ignore[operator]

    created = await a.post("/api/v1/lectures", json={"title": "安全生产第一课", "kind": "online"})
    assert created.status_code == 201, created.text
    lid = created.json()["id"]
    assert created.json()["status"] == "draft" and created.json()["lecturer_ids"] == [lecturer.id]

    assert (await _act(a, lid, "publish")).status_code == 403  # only admins publish
    first = await _act(a, lid, "submit")
    assert first.json().get("status") == "review", first.text
    assert (await _act(a, lid, "submit")).status_code == 409
    assert (await _act(a, lid, "withdraw")).json()["status"] == "draft"
    await _act(a, lid, "submit")
    refused = await _act(b, lid, "reject")
    assert refused.status_code == 422 and "note" in refused.json()["fields"]
    assert (await _act(b, lid, "reject", "请补充案例")).json()["status"] == "draft"
    await _act(a, lid, "submit")
    assert (await _act(b, lid, "publish")).json()["status"] == "published"
    # Authors may not edit published content behind the reviewer's back.
    edit = await a.put(f"/api/v1/lectures/{lid}", json={"title": "改过的标题"})
    assert edit.status_code == 403
    assert (await _act(b, lid, "unpublish")).json()["status"] == "draft"
    await _act(b, lid, "publish")
    assert (await _act(b, lid, "archive")).json()["status"] == "archived"
    assert (await _act(a, lid, "restore")).status_code == 403
    assert (await _act(b, lid, "restore")).json()["status"] == "draft"
    assert (await _act(b, lid, "archive")).json()["status"] == "archived"
    assert (await _act(b, lid, "publish")).json()["status"] == "published"

    async with runtime.sessions() as db:
        steps = (await db.exec(select(LectureTransition).where(LectureTransition.lecture_id == lid)
                               .order_by(LectureTransition.id))).all()
        audit = (await db.exec(select(AuditEntry.action).where(AuditEntry.target_id == str(lid)))).all()
    assert [(s.from_status, s.to_status) for s in steps][:3] == [(S.draft, S.review), (S.review, S.draft),
                                                                 (S.draft, S.review)]
    assert steps[3].note == "请补充案例" and steps[3].by_user_id == admin.id
    assert all(s.at is not None for s in steps) and len(steps) == 12
    assert "lecture.publish" in audit and "lecture.reject" in audit and "lecture.create" in audit


async def test_other_lecturer_cannot_touch_a_draft(runtime: Runtime, make_client: object) -> None:
    admin = await make_user(runtime, Role.admin)
    author = await make_user(runtime, Role.lecturer)
    other = await make_user(runtime, Role.lecturer)
    lecture = await make_lecture(runtime, author, "草稿讲座")
    c = await sign_in(make_client(), runtime, other)  # type: ignore[operator]
    assert (await _act(c, lecture.id or 0, "submit")).status_code == 404
    assert (await c.put(f"/api/v1/lectures/{lecture.id}", json={"title": "x"})).status_code == 404
    assert await _status(runtime, lecture.id or 0) is S.draft
    w = await sign_in(make_client(), runtime, await make_user(runtime, Role.worker))  # type: ignore[operator]
    assert (await w.post("/api/v1/lectures", json={"title": "x"})).status_code == 403
    assert admin


async def test_admin_forms_validate_in_chinese_and_keep_input(runtime: Runtime, client: httpx.AsyncClient) -> None:
    admin = await make_user(runtime, Role.admin)
    await sign_in(client, runtime, admin)
    bad = await client.post("/admin/lectures/new", data=with_csrf(client, {
        "title": "线下课", "kind": "offline", "address": "", "starts_at": "2026-05-01T14:00",
        "ends_at": "2026-05-01T13:00", "completion_ratio": "90", "max_rate": "2"}))
    assert bad.status_code == 422
    assert "请填写地点" in bad.text and "结束时间应晚于开始时间" in bad.text and 'value="线下课"' in bad.text
    good = await client.post("/admin/lectures/new", data=with_csrf(client, {
        "title": "线下课", "kind": "offline", "venue_type": "workshop", "address": "一号车间",
        "starts_at": "2026-05-01T14:00", "ends_at": "2026-05-01T16:00", "completion_ratio": "90",
        "max_rate": "2"}))
    assert good.status_code == 303
    page = await client.get(good.headers["location"])
    assert page.status_code == 200 and "2026-05-01T14:00" in page.text  # shown back in Beijing time
    review = await client.post(good.headers["location"].split("?")[0] + "/transition",
                               data=with_csrf(client, {"action": "publish"}))
    assert review.status_code == 303
    series = await client.post("/admin/series", data=with_csrf(client, {"title": "", "sort": "x"}))
    assert series.status_code == 422 and "请填写系列名称" in series.text and "排序应为整数" in series.text


@pytest.mark.parametrize("path", ["/admin/lectures", "/admin/review", "/admin/lecturers", "/admin/series",
                                  "/admin/lectures/new", "/admin/lecturers/new"])
async def test_admin_pages_render(runtime: Runtime, client: httpx.AsyncClient, path: str) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.admin))
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert "<title>" in response.text


async def test_demo_catalogue(runtime: Runtime, client: httpx.AsyncClient) -> None:
    from sqlalchemy import func

    from server.models.catalogue import Lecturer, Series
    from server.services import catalogue_demo

    admin = await make_user(runtime, Role.admin)
    await catalogue_demo.load(runtime)
    await catalogue_demo.load(runtime)  # idempotent
    async with runtime.sessions() as db:
        categories = (await db.exec(select(Lecturer.category, func.count()).group_by(Lecturer.category))).all()
        kinds = (await db.exec(select(Lecture.kind, func.count()).group_by(Lecture.kind))).all()
        series = (await db.exec(select(Series.title))).all()
    assert len(categories) == 3 and sum(n for _, n in categories) >= 12
    assert len(kinds) == 2 and sum(n for _, n in kinds) >= 20
    assert {"劳模大讲堂", "思政课程", "工青益夜校"} <= set(series)
    await sign_in(client, runtime, admin)
    home = await client.get("/")
    assert "劳模大讲堂" in home.text and "/images/" in home.text
