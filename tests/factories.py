"""Building blocks for tests: units, people, and clients signed in as them (through real sessions)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

import httpx

from server.auth import SESSION_COOKIE
from server.db import transaction
from server.middleware import CSRF_COOKIE
from server.models.base import utcnow
from server.models.people import Role, Unit, User, WebSession
from server.runtime import Runtime
from server.security import hash_password, new_token, token_digest
from server.settings import Settings

PASSWORD = "jiangtang2026"
_seq = itertools.count(1)
T = TypeVar("T")


async def make_unit(runtime: Runtime, name: str, parent: Unit | None = None) -> Unit:
    async with transaction(runtime.sessions) as db:
        unit = Unit(name=name, parent_id=parent.id if parent else None)
        db.add(unit)
        await db.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


async def make_user(runtime: Runtime, *roles: Role, unit: Unit | None = None, name: str | None = None,
                    password: str = PASSWORD, must_change_password: bool = False) -> User:
    n = next(_seq)
    async with transaction(runtime.sessions) as db:
        user = User(name=name or f"测试用户{n}", phone=f"139{n:08d}", employee_no=f"E{n:05d}",
                    unit_id=unit.id if unit else None, roles=[r.value for r in (roles or (Role.worker,))],
                    password_hash=hash_password(password), must_change_password=must_change_password)
        db.add(user)
    return user


async def sign_in(client: httpx.AsyncClient, runtime: Runtime, user: User) -> httpx.AsyncClient:
    """Give ``client`` a real server-side session for ``user`` and a CSRF token header."""
    token = new_token()
    async with transaction(runtime.sessions) as db:
        db.add(WebSession(token_hash=token_digest(token), user_id=user.id,
                          expires_at=utcnow() + timedelta(days=1)))
    csrf = new_token(24)
    client.cookies.set(SESSION_COOKIE, token)
    client.cookies.set(CSRF_COOKIE, csrf)
    client.headers["X-CSRF-Token"] = csrf
    return client


def with_csrf(client: httpx.AsyncClient, data: dict[str, str] | None = None) -> dict[str, str]:
    """Form data carrying the client's CSRF token (for HTML form posts)."""
    return {**(data or {}), "csrf_token": client.headers.get("X-CSRF-Token", "")}


def run_with_runtime(settings: Settings, fn: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run an async set-up function with its own Runtime from synchronous code.

    It runs on a thread of its own: Playwright's sync API keeps an event loop running on the test's thread.
    """

    async def main() -> T:
        runtime = Runtime.build(settings)
        await runtime.open()
        try:
            return await fn(runtime)
        finally:
            await runtime.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()
