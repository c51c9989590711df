"""Login throttling kept in PostgreSQL, so every server process sees the same counters.

Two keys are counted per attempt: the account ("login:<what was typed>") and the client IP. An IP
gets ``IP_FACTOR`` times the account allowance because whole offices and factories share one NAT
address; a single account still locks after ``login_max_failures`` failures.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from server.errors import TooManyRequests
from server.models.base import utcnow
from server.settings import Settings

IP_FACTOR = 5


def account_key(login: str) -> str:
    return "login:" + login.strip().lower()[:100]


def ip_key(ip: str) -> str:
    return "ip:" + ip[:100]


def wait_text(seconds: float) -> str:
    """How long to wait, in words a worker understands at a glance."""
    seconds = max(1, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


def lockout_message(seconds: float) -> str:
    return f"登录失败次数过多，账号或网络已被暂时锁定，请 {wait_text(seconds)}后再试"


def limits(settings: Settings) -> dict[str, int]:
    return {"account": settings.login_max_failures, "ip": settings.login_max_failures * IP_FACTOR}


async def check(db: AsyncSession, settings: Settings, *, login: str, ip: str) -> None:
    """Refuse the attempt with 429 while either key is locked."""
    row = (await db.exec(
        text("SELECT max(locked_until) FROM login_throttle WHERE key = ANY(:keys) AND locked_until > now()"),
        params={"keys": [account_key(login), ip_key(ip)]},
    )).scalar_one()
    if row is not None:
        raise TooManyRequests(lockout_message((row - utcnow()).total_seconds()))


# One atomic statement per key: the counter restarts when the previous window (or lock) is over,
# and the lock is set by the failure that reaches the limit. Concurrent processes serialise on the row.
_FAIL_SQL = text("""
INSERT INTO login_throttle (key, failures, window_started_at, locked_until)
VALUES (:key, 1, now(), CASE WHEN :limit <= 1 THEN now() + :lockout ELSE NULL END)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN login_throttle.window_started_at < now() - :lockout
                       OR login_throttle.locked_until <= now() THEN 1
                  ELSE login_throttle.failures + 1 END,
  window_started_at = CASE WHEN login_throttle.window_started_at < now() - :lockout
                                OR login_throttle.locked_until <= now() THEN now()
                           ELSE login_throttle.window_started_at END,
  locked_until = CASE WHEN (CASE WHEN login_throttle.window_started_at < now() - :lockout
                                      OR login_throttle.locked_until <= now() THEN 1
                                 ELSE login_throttle.failures + 1 END) >= :limit
                      THEN now() + :lockout ELSE NULL END
RETURNING locked_until
""")


async def record_failure(db: AsyncSession, settings: Settings, *, login: str, ip: str) -> datetime | None:
    """Count a failed attempt on both keys; returns when the attempt caused a lock, if it did."""
    lockout = timedelta(seconds=settings.login_lockout_s)
    caps = limits(settings)
    locked: datetime | None = None
    for key, limit in ((account_key(login), caps["account"]), (ip_key(ip), caps["ip"])):
        until = (await db.exec(_FAIL_SQL, params={"key": key, "limit": limit, "lockout": lockout})).scalar_one()
        locked = max(filter(None, (locked, until)), default=None)
    return locked


async def reset_account(db: AsyncSession, *, login: str) -> None:
    await db.exec(text("DELETE FROM login_throttle WHERE key = :key"), params={"key": account_key(login)})
