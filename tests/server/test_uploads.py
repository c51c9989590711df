from __future__ import annotations

import os
from datetime import timedelta

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlmodel import select

from server.db import transaction
from server.models.base import utcnow
from server.models.media import Media, MediaState, Upload, UploadState
from server.models.people import Role
from server.runtime import Runtime
from server.services.uploads import abort_stale_uploads, part_plan, parts_problem
from server.storage import StoredPart
from tests.factories import make_user, sign_in
from tests.server.media_support import make_lecture

MiB = 1024 * 1024


def test_part_plan_grows_parts_past_the_s3_limit() -> None:
    assert part_plan(10 * MiB + 5, 5 * MiB) == (5 * MiB, 3)
    size, count = part_plan(100 * 1024**3, 8 * MiB)
    assert count <= 10_000 and size % MiB == 0 and size * count >= 100 * 1024**3


def test_parts_problem_names_missing_parts_and_wrong_sizes() -> None:
    parts = [StoredPart(1, "a", 5), StoredPart(3, "c", 2)]
    assert "第 2 段" in (parts_problem(parts, size=12, part_size=5, part_count=3) or "")
    full = [StoredPart(1, "a", 5), StoredPart(2, "b", 5), StoredPart(3, "c", 1)]
    assert "不一致" in (parts_problem(full, size=12, part_size=5, part_count=3) or "")
    assert parts_problem(full, size=11, part_size=5, part_count=3) is None


async def _put(urls: dict[str, str], number: int, data: bytes) -> None:
    async with httpx.AsyncClient() as s3:
        response = await s3.put(urls[str(number)], content=data)
    assert response.status_code == 200, response.text


async def test_resumable_upload_through_real_s3(client: httpx.AsyncClient, make_client, runtime: Runtime) -> None:
    runtime.settings.upload_part_bytes = 5 * MiB
    owner = await make_user(runtime, Role.lecturer)
    lecture = await make_lecture(runtime, owner)
    await sign_in(client, runtime, owner)
    data = os.urandom(10 * MiB + 1234)
    body = {"filename": "讲座录像.mp4", "size": len(data), "content_type": "video/mp4", "last_modified": 1700000000123}

    created = await client.post(f"/api/v1/lectures/{lecture.id}/uploads", json=body)
    assert created.status_code == 201, created.text
    plan = created.json()
    assert plan["part_count"] == 3 and plan["uploaded_parts"] == []
    upload_id, part = plan["upload_id"], plan["part_size"]
    urls = (await client.post(f"/api/v1/uploads/{upload_id}/part-urls", json={"part_numbers": [1, 2, 3]})).json()
    await _put(urls["urls"], 1, data[:part])  # … and the tab is closed

    resumed = await client.post(f"/api/v1/lectures/{lecture.id}/uploads", json=body)
    assert resumed.status_code == 200 and resumed.json()["upload_id"] == upload_id
    assert resumed.json()["uploaded_parts"] == [1]
    early = await client.post(f"/api/v1/uploads/{upload_id}/complete", json={})
    assert early.status_code == 409 and "未上传" in early.json()["error"]

    urls = (await client.post(f"/api/v1/uploads/{upload_id}/part-urls", json={"part_numbers": [2, 3]})).json()
    await _put(urls["urls"], 2, data[part:2 * part])
    await _put(urls["urls"], 3, data[2 * part:-10])  # a truncated last part: the total is wrong
    short = await client.post(f"/api/v1/uploads/{upload_id}/complete", json={})
    assert short.status_code == 409 and "大小" in short.json()["error"]
    await _put(urls["urls"], 3, data[2 * part:])  # still resumable: the part is sent again

    stranger = await sign_in(make_client(), runtime, await make_user(runtime, Role.lecturer))
    assert (await stranger.post(f"/api/v1/uploads/{upload_id}/complete", json={})).status_code == 403
    assert (await stranger.post(f"/api/v1/lectures/{lecture.id}/uploads", json=body)).status_code == 403

    done = await client.post(f"/api/v1/uploads/{upload_id}/complete", json={})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "queued"
    async with runtime.sessions() as db:
        media = await db.get(Media, done.json()["media_id"])
        upload = await db.get(Upload, upload_id)
    assert media is not None and media.state == MediaState.queued and upload.state == UploadState.completed
    assert runtime.storage.get_bytes(media.source_key) == data
    jobs = list(await runtime.jobs.job_manager.list_jobs_async(queueing_lock=f"transcode:{media.id}"))
    assert len(jobs) == 1 and jobs[0].task_kwargs == {"media_id": media.id}


@pytest.mark.parametrize(("filename", "size", "field"), [("slides.pdf", 1000, "filename"),
                                                        ("talk.mp4", 9 * 1024**3, "size"), ("talk.mp4", 0, "size")])
async def test_unacceptable_files_are_refused_in_chinese(client: httpx.AsyncClient, runtime: Runtime,
                                                         filename: str, size: int, field: str) -> None:
    owner = await make_user(runtime, Role.lecturer)
    lecture = await make_lecture(runtime, owner)
    await sign_in(client, runtime, owner)
    response = await client.post(f"/api/v1/lectures/{lecture.id}/uploads",
                                 json={"filename": filename, "size": size, "content_type": "x", "last_modified": 0})
    assert response.status_code == 422
    assert field in response.json()["fields"] and any("\u4e00" <= c <= "\u9fff" for c in response.json()["error"])


async def test_plain_workers_cannot_upload(client: httpx.AsyncClient, runtime: Runtime) -> None:
    lecture = await make_lecture(runtime, None)
    await sign_in(client, runtime, await make_user(runtime, Role.worker))
    body = {"filename": "a.mp4", "size": 100, "content_type": "video/mp4", "last_modified": 0}
    assert (await client.post(f"/api/v1/lectures/{lecture.id}/uploads", json=body)).status_code == 403


async def test_cancel_aborts_the_multipart_upload(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await make_user(runtime, Role.admin)
    lecture = await make_lecture(runtime, None)
    await sign_in(client, runtime, admin)
    plan = (await client.post(f"/api/v1/lectures/{lecture.id}/uploads", json={
        "filename": "a.mov", "size": 100, "content_type": "video/quicktime", "last_modified": 1})).json()
    assert (await client.delete(f"/api/v1/uploads/{plan['upload_id']}")).status_code == 204
    async with runtime.sessions() as db:
        upload = await db.get(Upload, plan["upload_id"])
    assert upload is not None and upload.state == UploadState.aborted
    with pytest.raises(ClientError):
        runtime.storage.list_parts(upload.s3_key, upload.s3_upload_id)
    again = await client.post(f"/api/v1/uploads/{plan['upload_id']}/part-urls", json={"part_numbers": [1]})
    assert again.status_code == 409


async def test_stale_uploads_are_aborted(client: httpx.AsyncClient, runtime: Runtime) -> None:
    admin = await make_user(runtime, Role.admin)
    lecture = await make_lecture(runtime, None)
    await sign_in(client, runtime, admin)
    ids = []
    for name in ("old.mp4", "fresh.mp4"):
        ids.append((await client.post(f"/api/v1/lectures/{lecture.id}/uploads", json={
            "filename": name, "size": 100, "content_type": "video/mp4", "last_modified": 1})).json()["upload_id"])
    async with transaction(runtime.sessions) as db:
        old = await db.get(Upload, ids[0])
        assert old is not None
        old.created_at = utcnow() - timedelta(hours=runtime.settings.stale_upload_hours + 1)
        db.add(old)
    assert await abort_stale_uploads(runtime) == 1
    async with runtime.sessions() as db:
        states = {u.id: u.state for u in (await db.exec(select(Upload))).all()}
    assert states == {ids[0]: UploadState.aborted, ids[1]: UploadState.active}
    live = {u["UploadId"] for u in runtime.storage.list_multipart_uploads("uploads/")}
    async with runtime.sessions() as db:
        fresh = await db.get(Upload, ids[1])
    assert fresh is not None and fresh.s3_upload_id in live and old.s3_upload_id not in live
