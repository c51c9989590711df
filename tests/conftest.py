"""Real engines for the whole suite: PostgreSQL (JIANGTANG_TEST_DATABASE_URL or embedded) and SeaweedFS.

A template database is migrated once per session; every test that needs the database gets its own
``CREATE DATABASE … TEMPLATE`` clone, dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from starlette.applications import Starlette

from server import embedded, migrate
from server.app import create_app
from server.db import with_database
from server.runtime import Runtime
from server.settings import Settings
from server.storage import Storage

_counter = itertools.count()
RUN_ID = uuid.uuid4().hex[:6]


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jiangtang")


@pytest.fixture(scope="session")
def pg_admin_url(tmp_root: Path, request: pytest.FixtureRequest) -> str:
    """A libpq URL of a maintenance database on the test server."""
    url = os.environ.get("JIANGTANG_TEST_DATABASE_URL")
    if url:
        return url.replace("postgresql+psycopg://", "postgresql://")
    server = embedded.start_postgres(tmp_root, database="postgres")
    request.addfinalizer(server.stop)
    return server.url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    name = f"jt_tpl_{RUN_ID}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(with_database(pg_admin_url, name))
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    name = f"jt_t_{RUN_ID}_{next(_counter)}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3(tmp_root: Path) -> Iterator[embedded.EmbeddedS3]:
    server = embedded.start_seaweedfs(tmp_root)
    yield server
    embedded.stop_seaweedfs(server)


@pytest.fixture(scope="session")
def bucket(s3: embedded.EmbeddedS3) -> str:
    name = f"jt-test-{RUN_ID}"
    Storage(_s3_config(s3, name)).ensure_bucket()
    return name


def _s3_config(s3: embedded.EmbeddedS3, bucket: str):
    from server.storage import S3Config

    return S3Config(endpoint_url=s3.endpoint_url, access_key=s3.access_key, secret_key=s3.secret_key, bucket=bucket)


@pytest.fixture
def settings(database_url: str, s3: embedded.EmbeddedS3, bucket: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        s3_endpoint_url=s3.endpoint_url,
        s3_access_key=s3.access_key,
        s3_secret_key=s3.secret_key,
        s3_bucket=bucket,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-" + "x" * 32,
        db_pool_size=3,
    )


@pytest.fixture
def storage(s3: embedded.EmbeddedS3, bucket: str) -> Storage:
    return Storage(_s3_config(s3, bucket))


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime.build(settings)
    await rt.open()
    yield rt
    await rt.close()


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Starlette:
    return create_app(settings, runtime)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 follow_redirects=False) as c:
        yield c


@pytest.fixture
async def make_client(app: Starlette) -> AsyncIterator[object]:
    """Factory for extra independent clients (one per simulated person/device)."""
    opened: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                              follow_redirects=False)
        opened.append(c)
        return c

    yield factory
    for c in opened:
        await c.aclose()
