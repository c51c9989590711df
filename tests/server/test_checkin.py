"""The scan → sign in → confirm flow, the check-in window, the admin roster, undo (audited) and walk-ins."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import func
from sqlmodel import select

from server.db import transaction
from server.models.attendance import CheckIn
from server.models.base import utcnow
from server.models.catalogue import Lecture, LectureKind, LectureStatus
from server.models.people import AuditEntry, Role, Unit, User
from server.rules.checkin_token import make_token
from server.runtime import Runtime
from tests.factories import make_unit, make_user, sign_in, with_csrf


async def offline_lecture(runtime: Runtime, *, starts_in: timedelta = timedelta(0),
                          targets: list[Unit] | None = None) -> Lecture:
    async with transaction(runtime.sessions) as db:
        lecture = Lecture(title="劳模进车间：数控加工绝活", kind=LectureKind.offline, status=LectureStatus.published,
                          starts_at=utcnow() + starts_in, ends_at=utcnow() + starts_in + timedelta(hours=1),
                          address="一号厂房", target_unit_ids=[u.id for u in targets or []])
        db.add(lecture)
    return lecture


def token(runtime: Runtime, lecture: Lecture, *, age_s: float = 0) -> str:
    return make_token(runtime.settings.signing_key(), lecture.id or 0, time.time() - age_s)


async def scan_and_confirm(client: httpx.AsyncClient, lecture: Lecture, t: str) -> httpx.Response:
    landing = await client.get(f"/checkin/{lecture.id}", params={"t": t})
    if landing.status_code != 303:
        return landing
    await client.get(f"/checkin/{lecture.id}")
    return await client.post(f"/checkin/{lecture.id}", data=with_csrf(client))


async def checkins(runtime: Runtime) -> int:
    async with runtime.sessions() as db:
        return (await db.exec(select(func.count()).select_from(CheckIn))).one()


async def test_scan_sign_in_confirm_once(runtime: Runtime, client: httpx.AsyncClient) -> None:
    unit = await make_unit(runtime, "机械局")
    worker = await make_user(runtime, unit=unit)
    lecture = await offline_lecture(runtime)
    landing = await client.get(f"/checkin/{lecture.id}", params={"t": token(runtime, lecture)})
    assert landing.status_code == 303 and landing.headers["location"] == f"/checkin/{lecture.id}"
    to_login = await client.get(f"/checkin/{lecture.id}")
    assert to_login.headers["location"].startswith("/login?next=")
    await sign_in(client, runtime, worker)
    confirm_page = await client.get(f"/checkin/{lecture.id}")
    assert 'data-checkin-state="confirm"' in confirm_page.text and "确认签到" in confirm_page.text
    assert await checkins(runtime) == 0  # GET never changes state
    done = await client.post(f"/checkin/{lecture.id}", data=with_csrf(client))
    assert done.status_code == 200 and "签到成功" in done.text
    again = await scan_and_confirm(client, lecture, token(runtime, lecture))
    assert 'data-checkin-state="already"' in again.text
    assert await checkins(runtime) == 1
    async with runtime.sessions() as db:
        row = (await db.exec(select(CheckIn))).one()
    assert (row.unit_id, row.method) == (unit.id, "qr")


async def test_room_code_shared_within_window_but_not_after(runtime: Runtime,
                                                            make_client: Callable[[], httpx.AsyncClient]) -> None:
    lecture = await offline_lecture(runtime)
    fresh = token(runtime, lecture)
    for _ in range(2):
        c = await sign_in(make_client(), runtime, await make_user(runtime))
        assert "签到成功" in (await scan_and_confirm(c, lecture, fresh)).text
    late = await sign_in(make_client(), runtime, await make_user(runtime))
    expired = await scan_and_confirm(late, lecture, token(runtime, lecture, age_s=35))
    assert expired.status_code == 410 and "二维码已过期" in expired.text
    forged = await scan_and_confirm(late, lecture, fresh[:-2] + "AA")
    assert forged.status_code == 400 and "二维码无效" in forged.text
    # Without a scan, a forwarded page link cannot check anyone in.
    assert (await late.post(f"/checkin/{lecture.id}", data=with_csrf(late))).status_code == 403
    assert await checkins(runtime) == 2


async def test_window_closed_and_not_yet(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await sign_in(client, runtime, await make_user(runtime))
    past = await offline_lecture(runtime, starts_in=timedelta(hours=-3))
    response = await scan_and_confirm(client, past, token(runtime, past))
    assert response.status_code == 409 and "签到已结束" in response.text
    future = await offline_lecture(runtime, starts_in=timedelta(hours=2))
    assert "签到尚未开始" in (await scan_and_confirm(client, future, token(runtime, future))).text
    assert await checkins(runtime) == 0


async def test_projector_qr_api_and_scoping(runtime: Runtime, client: httpx.AsyncClient,
                                            make_client: Callable[[], httpx.AsyncClient]) -> None:
    root = await make_unit(runtime, "市总工会")
    a, b = await make_unit(runtime, "机械局", root), await make_unit(runtime, "教育工会", root)
    lecture = await offline_lecture(runtime, targets=[b])
    await sign_in(client, runtime, await make_user(runtime, Role.admin, unit=root))
    qr = (await client.get(f"/api/v1/lectures/{lecture.id}/checkin-qr")).json()
    assert qr["svg"].startswith("<svg") and qr["count"] == 0 and 1 <= qr["expires_in_s"] <= 15
    assert qr["url"].startswith(f"http://testserver/checkin/{lecture.id}?t=")
    assert (await client.get(f"/admin/lectures/{lecture.id}/projector")).status_code == 200
    outsider = await sign_in(make_client(), runtime, await make_user(runtime, Role.unit_admin, unit=a))
    assert (await outsider.get(f"/api/v1/lectures/{lecture.id}/checkin-qr")).status_code == 403
    insider = await sign_in(make_client(), runtime, await make_user(runtime, Role.unit_admin, unit=b))
    assert (await insider.get(f"/api/v1/lectures/{lecture.id}/checkin-qr")).status_code == 200
    worker = await sign_in(make_client(), runtime, await make_user(runtime, unit=b))
    assert (await worker.get(f"/api/v1/lectures/{lecture.id}/checkin-qr")).status_code == 403


async def test_roster_check_in_undo_and_walk_in(runtime: Runtime, client: httpx.AsyncClient) -> None:
    root = await make_unit(runtime, "市总工会")
    a, b = await make_unit(runtime, "机械局", root), await make_unit(runtime, "教育工会", root)
    lecture = await offline_lecture(runtime)
    admin_a = await make_user(runtime, Role.unit_admin, unit=a)
    mine = await make_user(runtime, unit=a, name="张师傅")
    other = await make_user(runtime, unit=b, name="李老师")
    await sign_in(client, runtime, admin_a)
    page = await client.get(f"/admin/lectures/{lecture.id}/checkins", params={"q": "师傅"})
    assert "张师傅" in page.text and "李老师" not in page.text
    url = f"/admin/lectures/{lecture.id}/checkins"
    assert (await client.post(url, data=with_csrf(client, {"user_id": str(mine.id)}))).status_code == 303
    assert (await client.post(url, data=with_csrf(client, {"user_id": str(mine.id)}))).status_code == 303
    assert (await client.post(url, data=with_csrf(client, {"user_id": str(other.id)}))).status_code == 404
    assert await checkins(runtime) == 1
    async with runtime.sessions() as db:
        entry = (await db.exec(select(CheckIn))).one()
    assert entry.method == "roster" and entry.by_user_id == admin_a.id
    undo = await client.post(f"{url}/{entry.id}/undo", data=with_csrf(client))
    assert undo.status_code == 303 and await checkins(runtime) == 0
    async with runtime.sessions() as db:
        actions = (await db.exec(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions == ["checkin.roster", "checkin.undo"]

    walk = f"/admin/lectures/{lecture.id}/walk-ins"
    bad = await client.post(walk, data=with_csrf(client, {"name": "赵工", "phone": "123", "unit_id": str(a.id)}))
    assert bad.status_code == 422 and "11 位手机号" in bad.text and 'value="赵工"' in bad.text
    outside = await client.post(walk, data=with_csrf(client, {"name": "赵工", "phone": "13800000001",
                                                               "unit_id": str(b.id)}))
    assert outside.status_code == 422
    ok = await client.post(walk, data=with_csrf(client, {"name": "赵工", "phone": "138 0000 0001",
                                                          "unit_id": str(a.id)}))
    assert ok.status_code == 303
    async with runtime.sessions() as db:
        person = (await db.exec(select(User).where(User.phone == "13800000001"))).one()
        entry = (await db.exec(select(CheckIn))).one()
    assert (person.unit_id, person.password_hash, entry.user_id, entry.method) == (a.id, None, person.id, "walk_in")
    dup = await client.post(walk, data=with_csrf(client, {"name": "赵工", "phone": "13800000001",
                                                           "unit_id": str(a.id)}))
    assert dup.status_code == 409 and "已登记" in dup.text
