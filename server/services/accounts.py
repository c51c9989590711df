"""Signing in and passwords: login by phone or 工号, self-service changes, admin resets and issuing.

Initial passwords: accounts created by import or by an admin have no password (they cannot sign in)
until an admin issues a one-time password — singly ("重置密码") or for a batch of not-yet-activated
people, downloaded once as XLSX. Every password, one-time or chosen, is hashed with Argon2id; the
one-time password forces a change at first sign-in. Issuing is bounded per batch because Argon2id
costs ~0.1 s per hash on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from sqlalchemy import or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.auth import end_all_sessions
from server.errors import Invalid, TooManyRequests
from server.models.people import Unit, User, WebSession
from server.permissions import Actor
from server.security import hash_password, password_problem, verify_password
from server.services import audit, throttle
from server.services.bootstrap import generated_password
from server.services.people import get_managed_person
from server.services.units import all_units, full_names
from server.settings import Settings

MAX_ISSUE_BATCH = 100
BAD_LOGIN = "手机号/工号或密码不正确"


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None = None
    locked: bool = False


async def find_by_login(db: AsyncSession, login: str) -> User | None:
    login = login.strip()
    if not login or len(login) > 40:
        return None
    return (await db.exec(select(User).where(or_(User.phone == login, User.employee_no == login)))).first()


async def authenticate(db: AsyncSession, settings: Settings, *, login: str, password: str, ip: str) -> LoginResult:
    """Check throttling, then the password; failures are counted in ``db`` (the caller commits either way)."""
    if not login.strip() or not password:
        return LoginResult(None, "请输入手机号/工号和密码")
    try:
        await throttle.check(db, settings, login=login, ip=ip)
    except TooManyRequests as exc:
        return LoginResult(None, exc.message, locked=True)
    user = await find_by_login(db, login)
    hashed = user.password_hash if user and user.is_active else None
    ok = await anyio.to_thread.run_sync(verify_password, hashed, password[:256])
    if not ok or user is None:
        locked = await throttle.record_failure(db, settings, login=login, ip=ip)
        if locked is not None:
            return LoginResult(None, throttle.lockout_message(settings.login_lockout_s), locked=True)
        return LoginResult(None, BAD_LOGIN)
    await throttle.reset_account(db, login=login)
    return LoginResult(user)


def check_new_password(new: str, confirm: str) -> None:
    problem = password_problem(new)
    if problem:
        raise Invalid(problem, fields={"new_password": problem})
    if new != confirm:
        raise Invalid("两次输入的新密码不一致", fields={"confirm": "两次输入的新密码不一致"})


async def change_own_password(db: AsyncSession, user_id: int, *, current: str, new: str, confirm: str,
                              keep_token_hash: str | None) -> None:
    """Change one's own password; every other session of this person ends."""
    user = await db.get(User, user_id)
    assert user is not None
    if not await anyio.to_thread.run_sync(verify_password, user.password_hash, current[:256]):
        raise Invalid("当前密码不正确", fields={"current": "当前密码不正确"})
    check_new_password(new, confirm)
    if new == current:
        raise Invalid("新密码不能与当前密码相同", fields={"new_password": "新密码不能与当前密码相同"})
    user.password_hash = await anyio.to_thread.run_sync(hash_password, new)
    user.must_change_password = False
    db.add(user)
    sessions = select(WebSession).where(WebSession.user_id == user_id)
    for session in (await db.exec(sessions)).all():
        if session.token_hash != keep_token_hash:
            await db.delete(session)


async def reset_password(db: AsyncSession, actor: Actor, person_id: int, *, ip: str | None) -> tuple[User, str]:
    """Give a person a fresh one-time password (shown once) and sign them out everywhere."""
    person = await get_managed_person(db, actor, person_id)
    password = generated_password()
    person.password_hash = await anyio.to_thread.run_sync(hash_password, password)
    person.must_change_password = True
    db.add(person)
    await end_all_sessions(db, person.id)  # type: ignore[arg-type]
    await audit.record(db, actor_id=actor.user_id, action="person.reset_password", target_type="person",
                       target_id=person.id, ip=ip)
    return person, password


def _hash_many(passwords: list[str]) -> list[str]:
    return [hash_password(p) for p in passwords]


async def issue_initial_passwords(db: AsyncSession, actor: Actor, *, unit_path: str | None,
                                  ip: str | None) -> list[tuple[User, str, str]]:
    """One-time passwords for active people in a unit subtree who have none yet (oldest first, bounded).

    Returns (person, unit full name, password) rows for a once-only download.
    """
    prefix = unit_path or "/"
    if not (actor.is_admin or (actor.unit_path and prefix.startswith(actor.unit_path))):
        raise Invalid("您无权为该单位签发密码")
    people = list((await db.exec(
        select(User).join(Unit, Unit.id == User.unit_id)
        .where(User.password_hash.is_(None), User.is_active, Unit.path.startswith(prefix))  # type: ignore[union-attr]
        .order_by(User.id).limit(MAX_ISSUE_BATCH).with_for_update(of=User))).all())
    passwords = [generated_password() for _ in people]
    hashes = await anyio.to_thread.run_sync(_hash_many, passwords)
    names = full_names(await all_units(db))
    for person, hashed in zip(people, hashes, strict=True):
        person.password_hash = hashed
        person.must_change_password = True
        db.add(person)
    await audit.record(db, actor_id=actor.user_id, action="person.issue_passwords", target_type="unit",
                       target_id=unit_path, after={"people": [p.id for p in people]}, ip=ip)
    return [(p, names.get(p.unit_id, "") if p.unit_id else "", pw)  # type: ignore[arg-type]
            for p, pw in zip(people, passwords, strict=True)]
