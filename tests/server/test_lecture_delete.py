"""Deleting a lecture: its S3 objects and rows go, attendance history forbids it, only editors (and for anything
past a first draft, only admins) may, and a failing S3 loses nothing."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlmodel import col, select

from server import keys
from server.db import transaction
from server.errors import Conflict, Forbidden
from server.models.attendance import CheckIn, CheckInMethod, WatchProgress
from server.models.catalogue import Lecture, LectureLecturer, LectureStatus, LectureTransition
from server.models.media import Media, MediaState, Upload, UploadState
from server.models.people import AuditEntry, Role, User
from server.runtime import Runtime
from server.services.lecture_delete import ADMINS_ONLY, HAS_ATTENDANCE, NOT_EDITOR, delete_lecture, refusal
from server.storage import Storage
from tests.factories import make_user, sign_in, with_csrf
from tests.server.catalogue_fixtures import actor_of, make_lecture, make_lecturer

S = LectureStatus


# --- the pure decision ----------------------------------------------------------------------------


@pytest.mark.parametrize(("is_admin", "can_edit", "status", "workflow", "attendance", "expected"), [
    (True, True, S.published, True, False, None),
    (True, True, S.archived, True, True, Conflict),
    (False, True, S.draft, False, False, None),        # an author's own first draft
    (False, True, S.draft, True, False, Forbidden),     # submitted once (then withdrawn or rejected)
    (False, True, S.review, True, False, Forbidden),
    (False, True, S.draft, True, True, Forbidden),      # who may not delete learns nothing about attendance
    (False, False, S.draft, False, False, Forbidden),
])
def test_refusal(is_admin: bool, can_edit: bool, status: S, workflow: bool, attendance: bool,
                 expected: type | None) -> None:
    reason = refusal(is_admin=is_admin, can_edit=can_edit, status=status, has_workflow=workflow,
                     has_attendance=attendance)
    assert (type(reason) if reason else None) is expected


def test_refusal_messages() -> None:
    assert refusal(is_admin=False, can_edit=False, status=S.draft, has_workflow=False,
                   has_attendance=False).message == NOT_EDITOR  # type: ignore[union-attr]
    assert refusal(is_admin=False, can_edit=True, status=S.review, has_workflow=True,
                   has_attendance=False).message == ADMINS_ONLY  # type: ignore[union-attr]
    assert "归档" in HAS_ATTENDANCE


# --- through PostgreSQL and S3 --------------------------------------------------------------------


async def _with_media(runtime: Runtime, lecture: Lecture) -> list[str]:
    """A transcoded recording (source and one attempt) and an upload still in progress; their key prefixes."""
    storage = runtime.storage
    async with transaction(runtime.sessions) as db:
        done = Upload(lecture_id=lecture.id, s3_key="", s3_upload_id="-", filename="talk.mp4", size=4, part_size=4,
                      state=UploadState.completed)
        done.s3_key = keys.upload_source_key(done.id)
        active = Upload(lecture_id=lecture.id, s3_key="", s3_upload_id="", filename="new.mp4", size=8, part_size=8)
        active.s3_key = keys.upload_source_key(active.id)
        active.s3_upload_id = storage.create_multipart(active.s3_key)
        db.add_all([done, active])
        await db.flush()
        media = Media(lecture_id=lecture.id, upload_id=done.id, source_key=done.s3_key, state=MediaState.ready,
                      attempt=1)
        prefix = keys.attempt_prefix(media.id, 1)
        media.published_prefix, media.playable = prefix, True
        db.add(media)
        await db.flush()
        row = await db.get(Lecture, lecture.id)
        assert row is not None
        row.current_media_id = media.id
    storage.put_bytes(done.s3_key, b"data")
    storage.upload_part(active.s3_key, active.s3_upload_id, 1, b"part")
    for name in ("master.m3u8", "360p/index.m3u8", "360p/seg_00000.m4s", "poster.jpg", "sprite.jpg"):
        storage.put_bytes(keys.media_key(prefix, name), b"x")
    return [keys.upload_prefix(done.id), keys.upload_prefix(active.id), keys.media_prefix(media.id)]


def _stored(runtime: Runtime, prefixes: list[str]) -> list[str]:
    return [k for p in prefixes for k in runtime.storage.list_keys(p)]


def _multipart(runtime: Runtime, prefixes: list[str]) -> list[str]:
    return [u["Key"] for p in prefixes for u in runtime.storage.list_multipart_uploads(p)]


async def _rows(runtime: Runtime, lecture_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with runtime.sessions() as db:
        for name, model in (("lecture", Lecture), ("upload", Upload), ("media", Media),
                            ("lecturers", LectureLecturer), ("transitions", LectureTransition),
                            ("progress", WatchProgress), ("checkins", CheckIn)):
            column = model.id if model is Lecture else model.lecture_id  # type: ignore[attr-defined]
            counts[name] = len((await db.exec(select(model).where(col(column) == lecture_id))).all())
    return counts


async def _published(runtime: Runtime) -> tuple[User, Lecture]:
    admin = await make_user(runtime, Role.admin)
    lecturer = await make_lecturer(runtime, admin, "王建国")
    return admin, await make_lecture(runtime, admin, "安全生产第一课", lecturers=[lecturer], publish_by=admin)


async def test_admin_deletes_objects_then_rows_from_the_edit_page(runtime: Runtime, make_client: object) -> None:
    admin, lecture = await _published(runtime)
    lid = lecture.id or 0
    prefixes = await _with_media(runtime, lecture)
    viewer = await make_user(runtime, Role.worker)
    async with transaction(runtime.sessions) as db:  # opened the player, nothing credited yet
        db.add(WatchProgress(user_id=viewer.id or 0, lecture_id=lid))
    assert len(_stored(runtime, prefixes)) == 6 and len(_multipart(runtime, prefixes)) == 1
    watcher = await sign_in(make_client(), runtime, viewer)  # type: ignore[operator]
    assert (await watcher.get(f"/lectures/{lid}")).status_code == 200  # now in the page cache

    client = await sign_in(make_client(), runtime, admin)  # type: ignore[operator]
    page = await client.get(f"/admin/lectures/{lid}")
    assert page.status_code == 200
    assert f'action="/admin/lectures/{lid}/delete" data-confirm="确定删除讲座' in page.text
    assert "删除讲座</button>" in page.text

    response = await client.post(f"/admin/lectures/{lid}/delete", data=with_csrf(client))
    assert response.status_code == 303 and response.headers["location"] == "/admin/lectures?deleted=1"
    assert "讲座已删除" in (await client.get(response.headers["location"])).text
    assert _stored(runtime, prefixes) == [] and _multipart(runtime, prefixes) == []
    assert await _rows(runtime, lid) == dict.fromkeys(
        ("lecture", "upload", "media", "lecturers", "transitions", "progress", "checkins"), 0)
    assert (await watcher.get(f"/lectures/{lid}")).status_code == 404
    async with runtime.sessions() as db:
        entry = (await db.exec(select(AuditEntry).where(AuditEntry.action == "lecture.delete"))).one()
    assert entry.actor_id == admin.id and entry.target_id == str(lid)
    assert entry.before["title"] == "安全生产第一课" and entry.after == {"objects_deleted": 6}


@pytest.mark.parametrize("history", ["watched", "checked_in"])
async def test_attendance_history_refuses_and_keeps_everything(runtime: Runtime, make_client: object,
                                                               history: str) -> None:
    admin, lecture = await _published(runtime)
    lid = lecture.id or 0
    prefixes = await _with_media(runtime, lecture)
    viewer = await make_user(runtime, Role.worker)
    async with transaction(runtime.sessions) as db:
        if history == "watched":
            db.add(WatchProgress(user_id=viewer.id or 0, lecture_id=lid, watched_s=0.5))
        else:
            db.add(CheckIn(lecture_id=lid, user_id=viewer.id or 0, method=CheckInMethod.roster))
    before = await _rows(runtime, lid)
    client = await sign_in(make_client(), runtime, admin)  # type: ignore[operator]

    api = await client.delete(f"/api/v1/lectures/{lid}")
    assert api.status_code == 409 and api.json() == {"error": HAS_ATTENDANCE, "code": "has_attendance"}
    form = await client.post(f"/admin/lectures/{lid}/delete", data=with_csrf(client))
    assert form.status_code == 409 and HAS_ATTENDANCE in form.text and "删除讲座</button>" not in form.text
    assert "删除讲座</button>" not in (await client.get(f"/admin/lectures/{lid}")).text

    assert len(_stored(runtime, prefixes)) == 6 and len(_multipart(runtime, prefixes)) == 1
    assert await _rows(runtime, lid) == before and before["lecture"] == 1
    async with runtime.sessions() as db:
        assert (await db.exec(select(AuditEntry).where(AuditEntry.action == "lecture.delete"))).first() is None


async def test_who_may_delete(runtime: Runtime, make_client: object) -> None:
    admin = await make_user(runtime, Role.admin)
    author = await make_user(runtime, Role.lecturer)
    other = await make_user(runtime, Role.lecturer)
    await make_lecturer(runtime, admin, "李师傅", user=author)
    a = await sign_in(make_client(), runtime, author)  # type: ignore[operator]
    o = await sign_in(make_client(), runtime, other)  # type: ignore[operator]
    w = await sign_in(make_client(), runtime, await make_user(runtime, Role.worker))  # type: ignore[operator]
    ua = await sign_in(make_client(), runtime, await make_user(runtime, Role.unit_admin))  # type: ignore[operator]

    draft = (await a.post("/api/v1/lectures", json={"title": "第一稿"})).json()["id"]
    assert (await w.delete(f"/api/v1/lectures/{draft}")).status_code == 403  # the route's gate
    assert (await ua.delete(f"/api/v1/lectures/{draft}")).status_code == 403
    assert (await o.delete(f"/api/v1/lectures/{draft}")).status_code == 404  # not theirs: not even seen
    assert (await a.delete(f"/api/v1/lectures/{draft}")).status_code == 204  # their own first draft
    assert (await a.delete(f"/api/v1/lectures/{draft}")).status_code == 404

    submitted = (await a.post("/api/v1/lectures", json={"title": "送审稿"})).json()["id"]
    await a.post(f"/api/v1/lectures/{submitted}/transitions", json={"action": "submit"})
    await a.post(f"/api/v1/lectures/{submitted}/transitions", json={"action": "withdraw"})
    refused = await a.delete(f"/api/v1/lectures/{submitted}")
    assert refused.status_code == 403 and refused.json()["error"] == ADMINS_ONLY
    page = await a.get(f"/admin/lectures/{submitted}")
    assert ADMINS_ONLY in page.text and "删除讲座</button>" not in page.text
    form = await a.post(f"/admin/lectures/{submitted}/delete", data=with_csrf(a))
    assert form.status_code == 403

    published = await make_lecture(runtime, admin, "已发布", publish_by=admin)
    assert (await o.delete(f"/api/v1/lectures/{published.id}")).status_code == 403  # visible, not editable
    async with runtime.sessions() as db:
        assert await db.get(Lecture, submitted) is not None and await db.get(Lecture, published.id) is not None


async def test_the_form_route_needs_the_csrf_token(runtime: Runtime, make_client: object) -> None:
    admin, lecture = await _published(runtime)
    client = await sign_in(make_client(), runtime, admin)  # type: ignore[operator]
    del client.headers["X-CSRF-Token"]
    response = await client.post(f"/admin/lectures/{lecture.id}/delete", data={})
    assert response.status_code == 403
    async with runtime.sessions() as db:
        assert await db.get(Lecture, lecture.id) is not None


async def test_a_failing_s3_loses_nothing_and_a_retry_finishes(runtime: Runtime) -> None:
    admin, lecture = await _published(runtime)
    lid = lecture.id or 0
    prefixes = await _with_media(runtime, lecture)
    before = await _rows(runtime, lid)
    # The real S3, refusing every request (a wrong secret), as an outage or a revoked key would.
    refusing = dataclasses.replace(runtime, storage=Storage(dataclasses.replace(runtime.storage.config,
                                                                                secret_key="wrong-secret")))
    with pytest.raises(ClientError):
        await delete_lecture(refusing, actor=actor_of(admin), lecture_id=lid, ip=None)
    assert await _rows(runtime, lid) == before
    assert len(_stored(runtime, prefixes)) == 6

    assert await delete_lecture(runtime, actor=actor_of(admin), lecture_id=lid, ip=None) == 6
    assert _stored(runtime, prefixes) == [] and (await _rows(runtime, lid))["lecture"] == 0


async def test_the_api_operation_is_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    operation = document["paths"]["/api/v1/lectures/{id}"]["delete"]
    assert "204" in operation["responses"] and "4XX" in operation["responses"]
    assert "归档" in operation["summary"]
