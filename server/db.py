"""The async SQLAlchemy engine (psycopg 3) and session factory — the one place that builds them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from server.embedded import to_sqlalchemy_url


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (keeps socket-directory query parameters)."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same database as a plain libpq URL (for procrastinate and psycopg)."""
    return "postgresql://" + to_sqlalchemy_url(url).removeprefix("postgresql+psycopg://")


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # pre-ping lets the pool recover by itself after PostgreSQL restarts.
    return create_async_engine(to_sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size,
                               pool_pre_ping=True, pool_recycle=1800)


SessionFactory = async_sessionmaker[AsyncSession]


def make_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on any error."""
    async with factory() as session, session.begin():
        yield session
