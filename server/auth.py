"""Server-side sessions: the cookie holds a random token; the database holds its digest.

Sessions live in PostgreSQL so any number of server processes share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.models.base import utcnow
from server.models.people import Unit, User, WebSession
from server.permissions import Actor
from server.security import new_token, token_digest

SESSION_COOKIE = "jt_session"
SECURE_SESSION_COOKIE = "__Host-jt_session"


@dataclass(frozen=True)
class Principal:
    user: User
    actor: Actor


def is_secure(conn: HTTPConnection) -> bool:
    return conn.url.scheme == "https"


def cookie_name(conn: HTTPConnection) -> str:
    return SECURE_SESSION_COOKIE if is_secure(conn) else SESSION_COOKIE


async def load_principal(conn: HTTPConnection) -> Principal | None:
    """The signed-in person for this request (cached on the request), or None."""
    if "principal" in conn.state._state:
        return conn.state.principal
    principal = None
    token = conn.cookies.get(cookie_name(conn))
    if token and len(token) <= 100:
        runtime = conn.app.state.runtime
        async with runtime.sessions() as db:
            row = (await db.execute(
                select(WebSession, User, Unit.path)
                .join(User, User.id == WebSession.user_id)
                .outerjoin(Unit, Unit.id == User.unit_id)
                .where(WebSession.token_hash == token_digest(token), WebSession.expires_at > utcnow(),
                       User.is_active)
            )).first()
        if row:
            _, user, unit_path = row
            principal = Principal(user, Actor(user.id, frozenset(user.roles), unit_path))
    conn.state.principal = principal
    return principal


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
        await db.execute(delete(WebSession).where(WebSession.token_hash == token_digest(token)))
    response.delete_cookie(cookie_name(conn), path="/", secure=is_secure(conn), httponly=True, samesite="lax")


async def end_all_sessions(db: AsyncSession, user_id: int) -> None:
    await db.execute(delete(WebSession).where(WebSession.user_id == user_id))


def client_ip(conn: HTTPConnection) -> str:
    # uvicorn's --proxy-headers (set behind a load balancer) already rewrites conn.client.
    return conn.client.host if conn.client else "unknown"
