"""Lecture management pages: lecturers draft and submit their own, admins review and publish (先审后发)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from server.auth import client_ip
from server.db import transaction
from server.errors import Conflict, Invalid
from server.models.catalogue import Lecturer
from server.permissions import Access
from server.routes.base import actor_of, path_int, redirect, route
from server.routes.catalogue_view import page_of, view
from server.routes.lecturers import upload_bytes
from server.services import catalogue, lecture_admin, lecture_delete, snapshot
from server.services.images import ImageKind, store_image
from server.templating import render
from server.workflow import Action, available


async def lectures(request: Request) -> Response:
    actor = await actor_of(request)
    status = request.query_params.get("status")
    async with request.app.state.runtime.sessions() as db:
        rows = await lecture_admin.manageable(db, actor=actor, status=status, q=request.query_params.get("q", ""),
                                              page=page_of(request))
    return await render(request, "admin/lectures.html", view(request, rows=rows, status=status,
                                                             q=request.query_params.get("q", "")[:40],
                                                             deleted=bool(request.query_params.get("deleted"))))


async def review(request: Request) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        rows = await lecture_admin.manageable(db, actor=actor, status="review", q="", page=page_of(request))
        billed = await catalogue.lecturers_of(db, [lec.id for lec in rows.items])
    return await render(request, "admin/review.html", view(request, rows=rows, billed=billed))


async def _choices(request: Request) -> dict[str, Any]:
    async with request.app.state.runtime.sessions() as db:
        series = await catalogue.all_series(db)
        people = (await db.exec(select(Lecturer.id, Lecturer.name).order_by(col(Lecturer.name)))).all()
    return {"series_choices": [s for s, _ in series], "lecturer_choices": people}


async def _render_form(request: Request, *, lecture_id: int | None, form: dict[str, Any], chosen: list[int],
                       errors: dict[str, str], status: int = 200, refused: str = "") -> Response:
    actor = await actor_of(request)
    lecture = transitions = delete_refusal = None
    actions: list[Action] = []
    if lecture_id is not None:
        async with request.app.state.runtime.sessions() as db:
            lecture, _ = await lecture_admin.get_for_edit(db, actor=actor, lecture_id=lecture_id)
            transitions = await lecture_admin.history(db, lecture_id)
            delete_refusal = await lecture_delete.deletion_refusal(db, actor=actor, lecture=lecture, can_edit=True)
        actions = available(lecture.status, is_admin=actor.is_admin, is_author=True)
    return await render(request, "admin/lecture_form.html", view(
        request, lecture=lecture, form=form, chosen=chosen + [0] * max(0, 3 - len(chosen)), errors=errors,
        transitions=transitions or [], actions=actions, delete_refusal=delete_refusal, refused=refused,
        **await _choices(request)), status=status)


async def _edit_form(request: Request, lecture_id: int, *, status: int = 200, refused: str = "") -> Response:
    """The edit page of a saved lecture, filled from the database."""
    async with request.app.state.runtime.sessions() as db:
        lecture, billed = await lecture_admin.get_for_edit(db, actor=await actor_of(request), lecture_id=lecture_id)
    form = lecture_admin.snapshot(lecture)
    form["completion_ratio"] = round(lecture.completion_ratio * 100)
    return await _render_form(request, lecture_id=lecture_id, form=form, chosen=[lr.id or 0 for lr in billed],
                              errors={}, status=status, refused=refused)


async def lecture_form(request: Request) -> Response:
    if "id" not in request.path_params:
        return await _render_form(request, lecture_id=None, form={"kind": "online", "completion_ratio": 90,
                                                                   "max_rate": 2}, chosen=[], errors={})
    return await _edit_form(request, path_int(request, "id"))


async def lecture_save(request: Request) -> Response:
    lecture_id = path_int(request, "id") if "id" in request.path_params else None
    form = await request.form()
    picked = form.getlist("lecturer_ids")
    values, ids, errors = lecture_admin.clean_lecture(form, [p for p in picked if isinstance(p, str)])
    if not errors:
        try:
            async with transaction(request.app.state.runtime.sessions) as db:
                saved = await lecture_admin.save_lecture(db, actor=await actor_of(request), lecture_id=lecture_id,
                                                         values=values, lecturer_ids=ids, ip=client_ip(request))
            snapshot.forget()
            return redirect(f"/admin/lectures/{saved.id}?saved=1")
        except Invalid as exc:
            errors = exc.fields or {"form": exc.message}
    return await _render_form(request, lecture_id=lecture_id, form=dict(form), chosen=ids, errors=errors,
                              status=422)


async def lecture_transition(request: Request) -> Response:
    lecture_id = path_int(request, "id")
    form = await request.form()
    raw = str(form.get("action") or "")
    if raw not in Action.__members__:
        raise Invalid("未知的操作")
    try:
        async with transaction(request.app.state.runtime.sessions) as db:
            await lecture_admin.transition(db, actor=await actor_of(request), lecture_id=lecture_id,
                                           action=Action(raw), note=str(form.get("note") or ""),
                                           ip=client_ip(request))
    except Invalid as exc:
        return await _render_form(request, lecture_id=lecture_id, form={}, chosen=[], errors=exc.fields,
                                  status=422)
    snapshot.forget()
    back = str(form.get("next") or "")
    return redirect(back if back in ("/admin/review",) else f"/admin/lectures/{lecture_id}")


async def lecture_cover(request: Request) -> Response:
    lecture_id = path_int(request, "id")
    runtime = request.app.state.runtime
    key = await store_image(runtime.storage, await upload_bytes(await request.form(), "photo"), ImageKind.cover)
    async with transaction(runtime.sessions) as db:
        await lecture_admin.set_cover(db, actor=await actor_of(request), lecture_id=lecture_id, key=key,
                                      ip=client_ip(request))
    snapshot.forget()
    return redirect(f"/admin/lectures/{lecture_id}")


async def lecture_remove(request: Request) -> Response:
    lecture_id = path_int(request, "id")
    try:
        await lecture_delete.delete_lecture(request.app.state.runtime, actor=await actor_of(request),
                                            lecture_id=lecture_id, ip=client_ip(request))
    except Conflict as exc:
        return await _edit_form(request, lecture_id, status=exc.status, refused=exc.message)
    snapshot.forget()
    return redirect("/admin/lectures?deleted=1")


L = Access.lecturer
routes = [
    route("/admin/lectures", lectures, access=L),
    route("/admin/lectures/new", lecture_form, access=L, name="admin_lecture_new"),
    route("/admin/lectures/new", lecture_save, access=L, methods=("POST",), name="admin_lecture_create"),
    route("/admin/lectures/{id}", lecture_form, access=L, name="admin_lecture_edit"),
    route("/admin/lectures/{id}", lecture_save, access=L, methods=("POST",), name="admin_lecture_update"),
    route("/admin/lectures/{id}/cover", lecture_cover, access=L, methods=("POST",)),
    route("/admin/lectures/{id}/transition", lecture_transition, access=L, methods=("POST",)),
    route("/admin/lectures/{id}/delete", lecture_remove, access=L, methods=("POST",)),
    route("/admin/review", review, access=Access.admin),
]
