"""Helpers of the fault tests: real `jiangtang` subprocesses against the test's database and S3."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import m3u8
import psycopg

from server.db import libpq_url
from server.settings import Settings
from server.storage import Storage

FAST_RECOVERY = {"JIANGTANG_WORKER_HEARTBEAT_S": "0.5", "JIANGTANG_WORKER_STALLED_S": "2",
                 "JIANGTANG_TRANSCODE_RETRY_S": "1"}


def app_env(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `jiangtang` child using exactly the test's PostgreSQL and S3 (nothing embedded)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIANGTANG_")}
    env.update(JIANGTANG_DATABASE_URL=settings.database_url or "", JIANGTANG_S3_ENDPOINT_URL=settings.s3_endpoint_url
               or "", JIANGTANG_S3_ACCESS_KEY=settings.s3_access_key or "",
               JIANGTANG_S3_SECRET_KEY=settings.s3_secret_key or "", JIANGTANG_S3_BUCKET=settings.s3_bucket,
               JIANGTANG_SECRET_KEY=settings.secret_key or "", JIANGTANG_DATA_DIR=str(data_dir), **extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "server.cli", *args], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], within: float, what: str,
                     explain: Callable[[], object] = lambda: "") -> Any:
    """Poll ``check`` until it returns something truthy (returned), or fail after ``within`` seconds,
    saying what ``explain`` returns then."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f} s; {explain()}")
        await anyio.sleep(0.1)


def query(settings: Settings, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(settings.database_url or ""), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def media_row(settings: Settings, media_id: str) -> dict[str, Any]:
    cols = ("state", "attempt", "percent", "error", "published_prefix", "playable")
    (row,) = query(settings, "SELECT state, attempt, percent, error, published_prefix, playable FROM media "
                   "WHERE id = %s", media_id)
    return dict(zip(cols, row, strict=True))


def transcode_jobs(settings: Settings, media_id: str) -> list[tuple[str, int]]:
    return [(status, attempts) for status, attempts in query(
        settings, "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = 'worker.tasks.transcode_media' "
        "AND args->>'media_id' = %s", media_id)]


def assert_plays(storage: Storage, media_id: str, prefix: str) -> None:
    """The master playlist and every segment of every rung are stored, and only this attempt's objects."""
    stored = set(storage.list_keys(f"media/{media_id}/"))
    assert stored and all(k.startswith(prefix) for k in stored), sorted(stored)[:5]
    master = m3u8.loads(storage.get_bytes(prefix + "master.m3u8").decode())
    assert master.is_variant and master.playlists
    for variant in master.playlists:
        rung = m3u8.loads(storage.get_bytes(prefix + variant.uri).decode())
        assert rung.is_endlist and rung.segments
        folder = prefix + variant.uri.rsplit("/", 1)[0] + "/"
        assert {folder + s.uri for s in rung.segments} | {folder + "init.mp4"} <= stored


def ready_url(base: str) -> int | None:
    try:
        return httpx.get(f"{base}/readyz", timeout=8).status_code
    except httpx.HTTPError:
        return None
