"""Server-side sessions: the cookie holds a random token; the database holds its digest.

Sessions live in PostgreSQL so any number of server processes share them. Each process remembers the
person behind a token digest for PRINCIPAL_TTL_S seconds, then re-reads it in the background while still
using it (server.refresh_ahead), so a busy page never waits for a session query. What this process
changes is forgotten at once (sign-out, ``end_all_sessions``, and any ORM flush touching a person or a
session: password change, role or unit change, deactivation). What another process changes is seen here
within PRINCIPAL_TTL_S plus one background re-read (2 × PRINCIPAL_TTL_S if the database does not
answer): a sign-out, deactivation or role change on server A takes effect on server B that much later
at most. A session's expiry is never exceeded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from markupsafe import escape
from sqlalchemy import delete, event
from sqlalchemy.orm import Session
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.middleware import request_cookies
from server.models.base import utcnow
from server.models.people import AuditEntry, Unit, User, WebSession
from server.permissions import Actor
from server.refresh_ahead import RefreshAheadCache
from server.security import new_token, token_digest

SESSION_COOKIE = "jt_session"
SECURE_SESSION_COOKIE = "__Host-jt_session"
PRINCIPAL_TTL_S = 5.0
MAX_REMEMBERED = 20_000


@dataclass(frozen=True)
class Principal:
    user: User
    actor: Actor
    # Read on every page request; kept as plain values rather than through the ORM's attribute machinery.
    name_html: bytes = b""            # the name, HTML-escaped, as the page header shows it
    must_change_password: bool = False


def is_secure(conn: HTTPConnection) -> bool:
    return conn.scope.get("scheme") == "https"  # what conn.url.scheme says, without building the URL


def cookie_name(conn: HTTPConnection) -> str:
    return SECURE_SESSION_COOKIE if is_secure(conn) else SESSION_COOKIE


@dataclass(frozen=True)
class Remembered:
    user_id: int | None
    principal: Principal | None       # None: no such session (remembered too, so bad cookies cost no query)
    session_ends: float               # time.monotonic() at which the session itself expires


# (database url, token digest) -> what the database said, refreshed in the background once PRINCIPAL_TTL_S
# old (server.refresh_ahead); a refresh that keeps failing stops serving it PRINCIPAL_TTL_S later.
_remembered: RefreshAheadCache[tuple[str, str], Remembered] = RefreshAheadCache(stale_s=PRINCIPAL_TTL_S,
                                                                               max_entries=MAX_REMEMBERED)


# The same few cookies arrive again and again; their digests need not be recomputed each time.
_digest = lru_cache(maxsize=MAX_REMEMBERED)(token_digest)


async def load_principal(conn: HTTPConnection) -> Principal | None:
    """The signed-in person for this request (cached on the request), or None."""
    state = conn.scope.setdefault("state", {})
    if "principal" in state:
        principal: Principal | None = state["principal"]
        return principal
    principal = None
    token = request_cookies(conn.scope).get(cookie_name(conn))
    if token and len(token) <= 100:
        runtime = conn.app.state.runtime
        key = (runtime.settings.database_url or "", _digest(token))
        remembered = await _remembered.get(key, lambda: _lookup(runtime, key[1]))
        if time.monotonic() < remembered.session_ends:  # a remembered session is never used past its expiry
            principal = remembered.principal
    state["principal"] = principal
    return principal


async def _lookup(runtime: Any, token_hash: str) -> tuple[Remembered, float]:
    started = time.monotonic()
    async with runtime.sessions() as db:
        row = (await db.exec(
            select(WebSession.expires_at, User, Unit.path)
            .join(User, User.id == WebSession.user_id)
            .outerjoin(Unit, Unit.id == User.unit_id)
            .where(WebSession.token_hash == token_hash, WebSession.expires_at > utcnow(), User.is_active)
        )).first()
    if not row:
        return Remembered(None, None, started), PRINCIPAL_TTL_S
    expires_at, user, unit_path = row
    principal = Principal(user, Actor(user.id, frozenset(user.roles), unit_path),
                          name_html=str(escape(user.name)).encode(), must_change_password=user.must_change_password)
    return Remembered(user.id, principal, started + (expires_at - utcnow()).total_seconds()), PRINCIPAL_TTL_S


def forget_token(token_hash: str) -> None:
    _remembered.forget_all(keep=lambda key, _: key[1] != token_hash)


def forget_users(user_ids: set[int]) -> None:
    _remembered.forget_all(keep=lambda _, remembered: remembered.user_id not in user_ids)


@event.listens_for(Session, "after_flush")
def _forget_changed(session: Session, _: Any) -> None:
    """Any person or session row written through the ORM in this process is re-read on next use."""
    changed = (*session.dirty, *session.deleted)
    audited = [obj for obj in session.new if isinstance(obj, AuditEntry)]
    # Unit moves rewrite paths with one SQL statement; their audit entry is what the ORM sees.
    if any(isinstance(obj, Unit) for obj in changed) or any(a.target_type == "unit" for a in audited):
        _remembered.forget_all()  # unit paths (unit-admin scopes) moved: rare, so forget everyone
        session.info["jt_forget_all"] = True
    touched = {obj.id for obj in changed if isinstance(obj, User)}
    touched |= {obj.user_id for obj in session.deleted if isinstance(obj, WebSession)}
    touched |= {int(a.target_id) for a in audited if a.target_type == "person" and (a.target_id or "").isdigit()}
    if touched:
        forget_users(touched)
        session.info.setdefault("jt_forget_users", set()).update(touched)


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    # Again after commit: a request that read the old row between flush and commit must not keep it.
    if session.info.pop("jt_forget_all", False):
        _remembered.forget_all()
    touched = session.info.pop("jt_forget_users", None)
    if touched:
        forget_users(touched)
    for token_hash in session.info.pop("jt_forget_tokens", ()):
        forget_token(token_hash)


async def start_session(db: AsyncSession, conn: HTTPConnection, response: Response, user: User,
                        ttl_days: int) -> None:
    token = new_token()
    db.add(WebSession(token_hash=token_digest(token), user_id=user.id,
                      expires_at=utcnow() + timedelta(days=ttl_days),
                      ip=client_ip(conn), user_agent=(conn.headers.get("user-agent") or "")[:300]))
    user.last_login_at = utcnow()
    db.add(user)
    response.set_cookie(cookie_name(conn), token, max_age=ttl_days * 86400, httponly=True,
                        secure=is_secure(conn), samesite="lax", path="/")


async def end_session(db: AsyncSession, conn: HTTPConnection, response: Response) -> None:
    token = conn.cookies.get(cookie_name(conn))
    if token:
        await db.exec(delete(WebSession).where(WebSession.token_hash == token_digest(token)))
        forget_token(token_digest(token))
        db.info.setdefault("jt_forget_tokens", set()).add(token_digest(token))
    response.delete_cookie(cookie_name(conn), path="/", secure=is_secure(conn), httponly=True, samesite="lax")


async def end_all_sessions(db: AsyncSession, user_id: int) -> None:
    await db.exec(delete(WebSession).where(WebSession.user_id == user_id))
    forget_users({user_id})
    db.info.setdefault("jt_forget_users", set()).add(user_id)


def client_ip(conn: HTTPConnection) -> str:
    # uvicorn's --proxy-headers (set behind a load balancer) already rewrites conn.client.
    return conn.client.host if conn.client else "unknown"
