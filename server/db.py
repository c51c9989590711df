"""The async SQLAlchemy engine (psycopg 3) and session factory — the one place that builds them."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only
from sqlmodel.ext.asyncio.session import AsyncSession

from server.embedded import to_sqlalchemy_url


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (keeps socket-directory query parameters)."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same database as a plain libpq URL (for procrastinate and psycopg)."""
    return "postgresql://" + to_sqlalchemy_url(url).removeprefix("postgresql+psycopg://")


# A connection idle for longer than this is pinged before use; busy ones are not (a ping is a round trip).
PING_IDLE_S = 2.0


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """The pool recovers by itself after PostgreSQL restarts: idle connections are pinged on checkout
    (a dead one is replaced), and a disconnect seen mid-request invalidates the whole pool, so at most
    the requests in flight at the moment of the restart fail. Unlike pool_pre_ping, a busy server does
    not pay a round trip per checkout."""
    engine = create_async_engine(to_sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size,
                                 pool_recycle=1800)
    event.listen(engine.sync_engine, "checkin", _stamp_idle)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


def _stamp_idle(dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PING_IDLE_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()  # end the ping's implicit transaction: the next user may switch autocommit
    except Exception as exc:
        raise DisconnectionError("connection lost while idle") from exc  # the pool retries with a new one


SessionFactory = async_sessionmaker[AsyncSession]


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on any error."""
    async with factory() as session, session.begin():
        yield session


class DirectPool:
    """A few autocommit psycopg connections for hot paths that need neither the ORM nor a transaction
    (heartbeats): a borrowed connection costs no reset, isolation switch or greenlet hop. At most
    ``size`` are open, so callers beyond that queue instead of opening more; one idle for PING_IDLE_S
    is pinged before use and replaced if dead. Closed with the engine it belongs to."""

    def __init__(self, url: str, size: int, *, options: str = "") -> None:
        self._url = url
        self._options = options
        self._gate = asyncio.Semaphore(size)
        self._idle: list[tuple[float, AsyncConnection[Any]]] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        async with self._gate:
            conn = await self._take()
            try:
                yield conn
            except BaseException:
                if conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
                    await conn.close()
                raise
            finally:
                if not conn.closed:
                    self._idle.append((time.monotonic(), conn))

    async def _take(self) -> AsyncConnection[Any]:
        while self._idle:
            since, conn = self._idle.pop()
            if time.monotonic() - since < PING_IDLE_S:
                return conn
            try:
                await conn.execute("SELECT 1")
                return conn
            except psycopg.Error:
                await conn.close()
        return await AsyncConnection.connect(self._url, autocommit=True, options=self._options, connect_timeout=10)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, conn in idle:
            await conn.close()


_direct: weakref.WeakKeyDictionary[Any, DirectPool] = weakref.WeakKeyDictionary()


def direct_pool(engine: AsyncEngine) -> DirectPool:
    sync_engine = engine.sync_engine
    pool = _direct.get(sync_engine)
    if pool is None:
        url = libpq_url(engine.url.render_as_string(hide_password=False))
        # Asynchronous commit: see server.services.heartbeat_writes for why heartbeats may use it. A statement
        # that hangs (a lock held elsewhere, a stalled server) is cut off rather than holding its batch's callers.
        # Prepared statements keep one generic plan: planning the heartbeat batch statement takes about as long
        # as running a small batch (0.7 ms in EXPLAIN), and its plan does not depend on the values.
        pool = _direct[sync_engine] = DirectPool(url, engine.pool.size(),  # type: ignore[attr-defined]
                                                 options="-c synchronous_commit=off -c statement_timeout=10s "
                                                         "-c plan_cache_mode=force_generic_plan")
        event.listen(sync_engine, "engine_disposed", _close_direct)
    return pool


def _close_direct(sync_engine: Any) -> None:
    pool = _direct.pop(sync_engine, None)
    if pool is not None:
        await_only(pool.close())  # dispose() runs in SQLAlchemy's greenlet, so awaiting is allowed here
