from __future__ import annotations

import httpx
from sqlmodel import select

from server.db import transaction
from server.models.people import LoginThrottle, Role
from server.runtime import Runtime
from server.services import throttle
from tests.factories import PASSWORD, make_user, sign_in


async def _csrf(client: httpx.AsyncClient) -> str:
    await client.get("/login")
    return client.cookies["jt_csrf"]


async def _login(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await client.post("/login", data={"login": login, "password": password, "next": "/admin",
                                             "csrf_token": await _csrf(client)})


async def test_login_by_phone_and_employee_no(client: httpx.AsyncClient, runtime: Runtime,
                                              make_client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(runtime, Role.worker, name="李师傅")
    ok = await _login(client, user.phone or "", PASSWORD)
    assert ok.status_code == 303 and ok.headers["location"] == "/admin"
    assert "HttpOnly" in ok.headers["set-cookie"] and "samesite=lax" in ok.headers["set-cookie"].lower()
    assert "李师傅" in (await client.get("/me/profile")).text
    other = make_client()
    assert (await _login(other, user.employee_no or "", PASSWORD)).status_code == 303
    bad = await _login(make_client(), user.phone or "", "wrong-password1")
    assert bad.status_code == 401 and "密码不正确" in bad.text


async def test_open_redirect_refused(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime)
    r = await client.post("/login", data={"login": user.phone, "password": PASSWORD, "next": "//evil.example",
                                          "csrf_token": await _csrf(client)})
    assert r.headers["location"] == "/"


async def test_account_lockout_and_reset_on_success(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime)
    limit = runtime.settings.login_max_failures
    for _ in range(limit - 1):
        assert (await _login(client, user.phone or "", "wrong-pass1")).status_code == 401
    assert (await _login(client, user.phone or "", PASSWORD)).status_code == 303  # success resets the counter
    for _ in range(limit - 1):
        await _login(client, user.phone or "", "wrong-pass1")
    locked = await _login(client, user.phone or "", "wrong-pass1")
    assert locked.status_code == 429 and "15 分钟" in locked.text
    still = await _login(client, user.phone or "", PASSWORD)  # even the right password waits
    assert still.status_code == 429 and "分钟后再试" in still.text


async def test_ip_lockout_is_shared_between_processes(runtime: Runtime) -> None:
    settings = runtime.settings
    async with transaction(runtime.sessions) as db:
        for i in range(throttle.limits(settings)["ip"]):
            await throttle.record_failure(db, settings, login=f"someone{i}", ip="10.0.0.9")
    # A fresh session stands for another server process: the state lives only in PostgreSQL.
    async with runtime.sessions() as db:
        row = (await db.exec(select(LoginThrottle).where(LoginThrottle.key == "ip:10.0.0.9"))).one()
        assert row.locked_until is not None
        try:
            await throttle.check(db, settings, login="fresh-account", ip="10.0.0.9")
            raise AssertionError("IP should be locked")
        except Exception as exc:
            assert "锁定" in str(exc)


def test_wait_text() -> None:
    assert throttle.wait_text(30) == "30 秒"
    assert throttle.wait_text(900) == "15 分钟"
    assert throttle.wait_text(61) == "2 分钟"


async def test_forced_password_change_then_other_sessions_end(client: httpx.AsyncClient, runtime: Runtime,
                                                              make_client) -> None:  # type: ignore[no-untyped-def]
    user = await make_user(runtime, must_change_password=True)
    first = await _login(client, user.phone or "", PASSWORD)
    assert first.headers["location"] == "/me/password"
    assert (await client.get("/")).headers["location"] == "/me/password"
    phone = await sign_in(make_client(), runtime, user)
    weak = await client.post("/me/password", data={"current": PASSWORD, "new_password": "short", "confirm": "short",
                                                   "csrf_token": client.cookies["jt_csrf"]})
    assert weak.status_code == 422 and "至少需要 8 位" in weak.text
    done = await client.post("/me/password", data={"current": PASSWORD, "new_password": "newpass2026",
                                                   "confirm": "newpass2026", "csrf_token": client.cookies["jt_csrf"]})
    assert done.status_code == 303
    assert (await client.get("/")).status_code == 200
    assert (await phone.get("/me/profile")).status_code == 303  # the other device was signed out
    assert (await _login(make_client(), user.phone or "", "newpass2026")).status_code == 303


async def test_logout_ends_session(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime)
    await _login(client, user.phone or "", PASSWORD)
    token = client.cookies["jt_session"]
    assert (await client.post("/logout", data={"csrf_token": client.cookies["jt_csrf"]})).status_code == 303
    client.cookies.set("jt_session", token)  # replaying the old cookie does not work
    assert (await client.get("/me/profile")).status_code == 303


async def test_json_login_and_me(client: httpx.AsyncClient, runtime: Runtime) -> None:
    user = await make_user(runtime, Role.lecturer, name="王讲师")
    csrf = await _csrf(client)
    r = await client.post("/api/v1/session", json={"login": user.employee_no, "password": PASSWORD},
                          headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["name"] == "王讲师"
    me = await client.get("/api/v1/me")
    assert me.json()["roles"] == ["lecturer"]
    bad = await client.post("/api/v1/session", json={"login": user.employee_no, "password": "nope"},
                            headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_credentials"
