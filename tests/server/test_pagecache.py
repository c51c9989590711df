"""Shared page renders never leak one viewer's name, CSRF token or progress to another, and the
session cache forgets a person at once when this process changes them."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from server.db import transaction
from server.models.attendance import WatchProgress
from server.models.people import Role, User
from server.runtime import Runtime
from tests.factories import make_user, sign_in
from tests.server.attendance_fixtures import online_lecture

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


async def test_shared_pages_carry_each_viewers_own_bits(runtime: Runtime,
                                                        make_client: Callable[[], httpx.AsyncClient]) -> None:
    lecture = await online_lecture(runtime, duration_s=600)
    alice = await make_user(runtime, name="甲职工")
    bob = await make_user(runtime, name="乙职工")
    async with transaction(runtime.sessions) as db:
        db.add(WatchProgress(user_id=alice.id or 0, lecture_id=lecture.id or 0, spans=[[0.0, 125.0]],
                             watched_s=125.0, duration_s=600.0, last_position_s=125.0))
    a = await sign_in(make_client(), runtime, alice)
    b = await sign_in(make_client(), runtime, bob)
    for path in ("/", "/lecturers", "/search?q=laomo", f"/lectures/{lecture.id}"):
        pages = {}
        for name, client in (("甲职工", a), ("乙职工", b)):
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:200])
            assert name in response.text and "\x1e" not in response.text, path
            meta = CSRF_META.search(response.text)
            assert meta and meta.group(1) == client.cookies["jt_csrf"], path
            pages[name] = response.text
        assert "乙职工" not in pages["甲职工"] and "甲职工" not in pages["乙职工"], path
    mine, theirs = pages["甲职工"], pages["乙职工"]
    assert "已有效观看 2 分 5 秒" in mine and 'data-resume-s="125.0"' in mine
    assert "已有效观看" not in theirs and 'data-resume-s="0"' in theirs


async def test_a_role_change_applies_at_once(runtime: Runtime, client: httpx.AsyncClient) -> None:
    user = await make_user(runtime)
    await sign_in(client, runtime, user)
    assert (await client.get("/admin")).status_code == 403
    async with transaction(runtime.sessions) as db:
        person = await db.get(User, user.id)
        assert person is not None
        person.roles = [Role.worker.value, Role.admin.value]
        db.add(person)
    assert (await client.get("/admin")).status_code == 200
    async with transaction(runtime.sessions) as db:
        person = await db.get(User, user.id)
        assert person is not None
        person.is_active = False
        db.add(person)
    assert (await client.get("/admin")).status_code in (303, 401)
