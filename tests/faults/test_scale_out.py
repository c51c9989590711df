"""Two workers and two web servers against one PostgreSQL and one S3.

Ten uploads pushed alternately through both servers over HTTP are each transcoded exactly once, the work
is shared by both workers, and a session opened on one server is honoured by the other.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import httpx

from server.embedded import free_port
from server.models.people import Role
from server.runtime import Runtime
from server.settings import Settings
from tests.factories import PASSWORD, make_user
from tests.faults.support import app_env, eventually, query, ready_url, start, stop
from tests.server.media_support import make_lecture, make_video

UPLOADS = 10
CSRF = "scale-out-csrf-token-0123456789"


async def _upload(client: httpx.AsyncClient, base: str, lecture_id: int, source: Path) -> str:
    """What the browser does: plan, presigned part PUTs straight to S3, complete."""
    data = await anyio.Path(source).read_bytes()
    plan = (await client.post(f"{base}/api/v1/lectures/{lecture_id}/uploads",
                              json={"filename": source.name, "size": len(data), "content_type": "video/mp4"}))
    assert plan.status_code == 201, plan.text
    upload_id, part_size = plan.json()["upload_id"], plan.json()["part_size"]
    numbers = list(range(1, plan.json()["part_count"] + 1))
    urls = await client.post(f"{base}/api/v1/uploads/{upload_id}/part-urls", json={"part_numbers": numbers})
    assert urls.status_code == 200, urls.text
    async with httpx.AsyncClient(timeout=30) as s3:
        for n in numbers:
            put = await s3.put(urls.json()["urls"][str(n)], content=data[(n - 1) * part_size:n * part_size])
            assert put.status_code == 200, put.text
    done = await client.post(f"{base}/api/v1/uploads/{upload_id}/complete", json={})
    assert done.status_code == 200, done.text
    return done.json()["media_id"]


async def test_two_servers_two_workers_share_the_work(settings: Settings, runtime: Runtime, tmp_path: Path) -> None:
    lecturer = await make_user(runtime, Role.lecturer)
    lectures = [await make_lecture(runtime, lecturer, title=f"工会知识第{i + 1}讲") for i in range(UPLOADS)]
    sources = [make_video(settings.ffmpeg_binary, tmp_path / f"talk{i}.mp4", seconds=2, size="160x90")
               for i in range(UPLOADS)]
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(ports):
            procs.append(start(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
                               app_env(settings, tmp_path / f"server{i}"), tmp_path / f"server{i}.log"))
        for i in range(2):
            procs.append(start(["worker"], app_env(settings, tmp_path / f"worker{i}"), tmp_path / f"worker{i}.log"))
        for base in bases:
            await eventually(lambda b=base: ready_url(b) == 200, 40, f"{base} ready")

        async with httpx.AsyncClient(timeout=30) as client:
            # Sign in on server 1 only; server 2 must honour that cookie from the shared database.
            client.cookies.set("jt_csrf", CSRF)
            client.headers["X-CSRF-Token"] = CSRF
            login = await client.post(f"{bases[0]}/api/v1/session",
                                      json={"login": lecturer.employee_no, "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert (await client.get(f"{bases[1]}/api/v1/me")).status_code == 200
            media_ids = [await _upload(client, bases[i % 2], lecture.id or 0, source)
                         for i, (lecture, source) in enumerate(zip(lectures, sources, strict=True))]

        def states() -> list[tuple[str, str, int]]:
            return query(settings, "SELECT id, state::text, attempt FROM media WHERE id = ANY(%s)", media_ids)

        await eventually(lambda: all(s in ("ready", "failed") for _, s, _ in states())
                         and len(states()) == UPLOADS, 50, "all transcoded", states)
        # The media row is marked ready inside the job; procrastinate records its success just after.
        await eventually(lambda: not query(settings, "SELECT 1 FROM procrastinate_jobs WHERE status IN "
                                           "('todo', 'doing') AND task_name = 'worker.tasks.transcode_media'"),
                         10, "jobs finished")
        # Read while both workers run: a stopping worker unregisters and its jobs' worker_id goes NULL.
        runs = query(settings, "SELECT j.args->>'media_id', j.status::text, j.attempts, w.id "
                     "FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
                     "WHERE j.task_name = 'worker.tasks.transcode_media' AND j.args->>'media_id' = ANY(%s)",
                     media_ids)
        live_workers = query(settings, "SELECT count(*) FROM procrastinate_workers")[0][0]
    finally:
        for proc in procs:
            stop(proc)

    assert sorted((m, s, a) for m, s, a in states()) == sorted((m, "ready", 1) for m in media_ids)
    assert sorted(r[0] for r in runs) == sorted(media_ids)  # one job per upload ...
    assert all(status == "succeeded" and attempts == 1 for _, status, attempts, _ in runs), runs  # ... run once
    assert live_workers == 2
    by_worker = {w for *_, w in runs}
    assert None not in by_worker and len(by_worker) == 2, runs
