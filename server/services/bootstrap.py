"""First-run set-up: the bucket and an initial administrator."""

from __future__ import annotations

import secrets
import string

from sqlalchemy import any_, text
from sqlmodel import func, select

from server.db import transaction
from server.models.people import Role, Unit, User
from server.runtime import Runtime
from server.security import hash_password

ADMIN_LOGIN = "admin"
FIRST_RUN_LOCK = 0x6A74_0001  # pg advisory lock key: servers starting together on an empty database


def generated_password() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(14))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


async def ensure_root_unit(runtime: Runtime, name: str = "总工会") -> Unit:
    async with transaction(runtime.sessions) as db:
        root = (await db.exec(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))).first()
        if root:
            return root
        root = Unit(name=name)
        db.add(root)
        await db.flush()
        root.path = f"/{root.id}/"
        return root


async def create_admin(runtime: Runtime, *, login: str, name: str, password: str | None = None) -> str:
    """Create (or reset) an administrator; returns the password to hand over once."""
    root = await ensure_root_unit(runtime)
    password = password or generated_password()
    async with transaction(runtime.sessions) as db:
        user = (await db.exec(select(User).where(User.employee_no == login))).first()
        if user is None:
            user = User(name=name, employee_no=login, unit_id=root.id, roles=[Role.admin.value, Role.worker.value])
        user.password_hash = hash_password(password)
        user.must_change_password = True
        user.is_active = True
        db.add(user)
    return password


async def ensure_first_admin(runtime: Runtime) -> str | None:
    """On an empty database create the first admin and return its one-time password.

    Several servers may start at once: the check and the creation run under one advisory lock, so only
    the first creates the root unit and the admin."""
    async with runtime.engine.connect() as lock:
        await lock.execute(text("SELECT pg_advisory_lock(:key)").bindparams(key=FIRST_RUN_LOCK))
        try:
            async with runtime.sessions() as db:
                admins = (await db.exec(select(func.count()).select_from(User)
                                        .where(any_(User.roles) == Role.admin.value))).one()
            if admins:
                return None
            return await create_admin(runtime, login=ADMIN_LOGIN, name="系统管理员")
        finally:
            await lock.execute(text("SELECT pg_advisory_unlock(:key)").bindparams(key=FIRST_RUN_LOCK))
