"""Admin pages for the roster and the series (admins only); every change is audited by the services."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.auth import client_ip
from server.db import transaction
from server.errors import Invalid
from server.permissions import Access
from server.routes.base import actor_of, path_int, redirect, route
from server.routes.catalogue_view import page_of, view
from server.routes.lecturers import save_photo, upload_bytes
from server.services import catalogue, roster, snapshot
from server.services.images import ImageKind, store_image
from server.templating import render


async def lecturers(request: Request) -> Response:
    async with request.app.state.runtime.sessions() as db:
        people = await roster.list_lecturers(db, category=request.query_params.get("category"),
                                             q=request.query_params.get("q", ""), page=page_of(request), per_page=50)
    return await render(request, "admin/lecturers.html", view(request, people=people,
                                                              q=request.query_params.get("q", "")[:40]))


async def lecturer_form(request: Request) -> Response:
    lecturer = None
    form: dict[str, object] = {"category": "model_worker"}
    if "id" in request.path_params:
        async with request.app.state.runtime.sessions() as db:
            lecturer = await roster.get_lecturer(db, path_int(request, "id"))
        form = roster.snapshot(lecturer)
    action = f"/admin/lecturers/{lecturer.id}" if lecturer else "/admin/lecturers/new"
    return await render(request, "admin/lecturer_form.html", view(
        request, lecturer=lecturer, form=form, errors={}, self_edit=False, action=action))


async def lecturer_save(request: Request) -> Response:
    lecturer_id = path_int(request, "id") if "id" in request.path_params else None
    form = await request.form()
    values, errors = roster.clean_lecturer(form, allow_link=True)
    action = f"/admin/lecturers/{lecturer_id}" if lecturer_id else "/admin/lecturers/new"
    if not errors:
        try:
            async with transaction(request.app.state.runtime.sessions) as db:
                saved = await roster.save_lecturer(db, actor=await actor_of(request), lecturer_id=lecturer_id,
                                                   values=values, ip=client_ip(request))
            snapshot.forget()
            return redirect(f"/admin/lecturers/{saved.id}?saved=1")
        except Invalid as exc:
            errors = exc.fields or {"form": exc.message}
    lecturer = None
    if lecturer_id:
        async with request.app.state.runtime.sessions() as db:
            lecturer = await roster.get_lecturer(db, lecturer_id)
    return await render(request, "admin/lecturer_form.html", view(
        request, lecturer=lecturer, form=dict(form), errors=errors, self_edit=False, action=action), status=422)


async def lecturer_photo(request: Request) -> Response:
    lecturer_id = path_int(request, "id")
    return await save_photo(request, lecturer_id, back=f"/admin/lecturers/{lecturer_id}")


async def lecturer_delete(request: Request) -> Response:
    async with transaction(request.app.state.runtime.sessions) as db:
        await roster.delete_lecturer(db, actor=await actor_of(request), lecturer_id=path_int(request, "id"),
                                     ip=client_ip(request))
    snapshot.forget()
    return redirect("/admin/lecturers")


async def series_list(request: Request, *, form: dict[str, object] | None = None,
                      errors: dict[str, str] | None = None, status: int = 200) -> Response:
    async with request.app.state.runtime.sessions() as db:
        rows = await catalogue.all_series(db)
    return await render(request, "admin/series.html", view(request, rows=rows, form=form or {"sort": 0},
                                                          errors=errors or {}), status=status)


async def series_form(request: Request) -> Response:
    async with request.app.state.runtime.sessions() as db:
        series = await catalogue.get_series(db, path_int(request, "id"))
    return await render(request, "admin/series_form.html", view(request, series=series,
                                                               form=series.model_dump(), errors={}))


async def series_save(request: Request) -> Response:
    """Create (POST /admin/series) or update (POST /admin/series/{id}); invalid input re-renders the form."""
    series_id = path_int(request, "id") if "id" in request.path_params else None
    form = await request.form()
    values, errors = catalogue.clean_series(form)
    if not errors:
        try:
            async with transaction(request.app.state.runtime.sessions) as db:
                await catalogue.save_series(db, actor=await actor_of(request), series_id=series_id, values=values,
                                            ip=client_ip(request))
            snapshot.forget()
            return redirect("/admin/series")
        except Invalid as exc:
            errors = exc.fields
    if series_id is None:
        return await series_list(request, form=dict(form), errors=errors, status=422)
    async with request.app.state.runtime.sessions() as db:
        series = await catalogue.get_series(db, series_id)
    return await render(request, "admin/series_form.html", view(request, series=series, form=dict(form),
                                                               errors=errors), status=422)


async def series_cover(request: Request) -> Response:
    series_id = path_int(request, "id")
    runtime = request.app.state.runtime
    key = await store_image(runtime.storage, await upload_bytes(await request.form(), "photo"), ImageKind.cover)
    async with transaction(runtime.sessions) as db:
        await catalogue.set_series_cover(db, actor=await actor_of(request), series_id=series_id, key=key,
                                         ip=client_ip(request))
    snapshot.forget()
    return redirect(f"/admin/series/{series_id}")


async def series_delete(request: Request) -> Response:
    async with transaction(request.app.state.runtime.sessions) as db:
        await catalogue.delete_series(db, actor=await actor_of(request), series_id=path_int(request, "id"),
                                      ip=client_ip(request))
    snapshot.forget()
    return redirect("/admin/series")


A = Access.admin
routes = [
    route("/admin/lecturers", lecturers, access=A),
    route("/admin/lecturers/new", lecturer_form, access=A, name="admin_lecturer_new"),
    route("/admin/lecturers/new", lecturer_save, access=A, methods=("POST",), name="admin_lecturer_create"),
    route("/admin/lecturers/{id}", lecturer_form, access=A, name="admin_lecturer_edit"),
    route("/admin/lecturers/{id}", lecturer_save, access=A, methods=("POST",), name="admin_lecturer_update"),
    route("/admin/lecturers/{id}/photo", lecturer_photo, access=A, methods=("POST",)),
    route("/admin/lecturers/{id}/delete", lecturer_delete, access=A, methods=("POST",)),
    route("/admin/series", series_list, access=A),
    route("/admin/series", series_save, access=A, methods=("POST",)),
    route("/admin/series/{id}", series_form, access=A),
    route("/admin/series/{id}", series_save, access=A, methods=("POST",)),
    route("/admin/series/{id}/cover", series_cover, access=A, methods=("POST",)),
    route("/admin/series/{id}/delete", series_delete, access=A, methods=("POST",)),
]
