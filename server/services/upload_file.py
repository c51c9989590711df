"""Upload a local file through the same path a browser takes (plan → presigned part PUTs → complete).

Used by `jiangtang upload` for admins with big local files, and by the demo loader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
from sqlmodel import select

from server.errors import NotFound
from server.models.media import Media
from server.models.people import User
from server.permissions import Actor
from server.runtime import Runtime
from server.services import uploads

PARALLEL_PARTS = 4
PART_TRIES = 5


async def actor_by_login(runtime: Runtime, login: str) -> Actor:
    async with runtime.sessions() as db:
        user = (await db.exec(select(User).where(User.employee_no == login, User.is_active))).first()
    if user is None or user.id is None:
        raise NotFound(f"找不到账号 {login}")
    return Actor(user.id, frozenset(user.roles), None)


async def upload_local_file(runtime: Runtime, *, actor: Actor, lecture_id: int, path: Path,
                            on_progress: Callable[[int, int], None] | None = None) -> Media:
    """Upload ``path`` (resuming an earlier interrupted run of the same file) and queue its transcode."""
    stat = await anyio.Path(path).stat()
    size = stat.st_size
    plan = await uploads.start_upload(runtime, actor=actor, lecture_id=lecture_id, filename=path.name, size=size,
                                      content_type="application/octet-stream",
                                      last_modified=int(stat.st_mtime * 1000))
    done = set(plan.uploaded_parts)
    todo = [n for n in range(1, plan.part_count + 1) if n not in done]
    sent = sum(min(plan.part_size, size - (n - 1) * plan.part_size) for n in done)
    if on_progress:
        on_progress(sent, size)

    async def put(client: httpx.AsyncClient, number: int, url: str) -> None:
        nonlocal sent
        offset = (number - 1) * plan.part_size
        data = await anyio.to_thread.run_sync(_read, path, offset, plan.part_size)
        for attempt in range(1, PART_TRIES + 1):
            try:
                response = await client.put(url, content=data)
                response.raise_for_status()
                break
            except httpx.HTTPError:
                if attempt == PART_TRIES:
                    raise
                await anyio.sleep(2**attempt)  # backoff between retries of one part
        sent += len(data)
        if on_progress:
            on_progress(sent, size)

    limiter = anyio.CapacityLimiter(PARALLEL_PARTS)

    async def one(client: httpx.AsyncClient, number: int, url: str) -> None:
        async with limiter:
            await put(client, number, url)

    async with httpx.AsyncClient(timeout=httpx.Timeout(120, connect=10)) as client:
        for start in range(0, len(todo), uploads.MAX_URLS_PER_REQUEST):
            batch = todo[start:start + uploads.MAX_URLS_PER_REQUEST]
            urls = await uploads.part_urls(runtime, actor=actor, upload_id=plan.upload_id, part_numbers=batch)
            async with anyio.create_task_group() as tg:
                for number in batch:
                    tg.start_soon(one, client, number, urls[str(number)])
    return await uploads.complete_upload(runtime, actor=actor, upload_id=plan.upload_id)


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read(length)
