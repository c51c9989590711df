from __future__ import annotations

import httpx
import psycopg
from sqlmodel import select

from server import embedded, migrate
from server.app import create_app
from server.db import with_database
from server.jobs import PING_TASK, defer
from server.models.system import WorkerPing
from server.runtime import Runtime
from server.settings import Settings
from worker.main import run_worker


def test_migrations_apply_from_empty(pg_admin_url: str) -> None:
    name = "jt_empty_migration_check"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(pg_admin_url, name)
    try:
        assert migrate.current_revisions(url) == set()
        migrate.upgrade(url)
        assert migrate.current_revisions(url) == migrate.head_revisions()
        migrate.upgrade(url)  # idempotent
        with psycopg.connect(url) as conn:
            tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert {"person", "unit", "lecture", "media", "heartbeat", "procrastinate_jobs"} <= tables
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_job_deferred_by_server_runs_in_worker(settings: Settings, runtime: Runtime) -> None:
    job_id = await defer(runtime.jobs, PING_TASK, requested_by="test")
    assert job_id > 0
    await run_worker(settings, wait=False)
    async with runtime.sessions() as db:
        pings = (await db.exec(select(WorkerPing))).all()
    assert [p.requested_by for p in pings] == ["test"]


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "storage": "ok"}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "python_info" in metrics.text


async def test_ready_fails_when_s3_is_down(settings: Settings) -> None:
    down = settings.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{embedded.free_port()}"})
    runtime = Runtime.build(down)
    await runtime.open()
    try:
        app = create_app(down, runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["storage"].startswith("error")
        assert response.json()["checks"]["database"] == "ok"
    finally:
        await runtime.close()


async def test_login_page_renders_and_sets_csrf_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.text
    assert "jt_csrf=" in response.headers.get("set-cookie", "")


async def test_static_files_are_cached_by_content_hash(client: httpx.AsyncClient) -> None:
    plain = await client.get("/static/css/app.css")
    assert plain.status_code == 200 and plain.headers["cache-control"] == "public, max-age=300"
    versioned = await client.get("/static/css/app.css?v=abc")
    assert "immutable" in versioned.headers["cache-control"]


async def test_unsafe_request_without_csrf_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/logout", data={"x": "1"})
    assert response.status_code == 403
    assert "刷新页面" in response.text


async def test_oversized_body_is_413(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.post("/api/v1/anything", content=b"x" * (settings.max_body_bytes + 1),
                                 headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
