"""The roster pages: list with category filter and search, lecturer profile, a lecturer's own profile editor."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from server import pagecache
from server.auth import client_ip
from server.db import transaction
from server.errors import Invalid, NotFound
from server.permissions import Access
from server.routes.base import actor_of, path_int, redirect, route
from server.routes.catalogue_view import page_of, query, view
from server.services import catalogue, roster, snapshot
from server.services.images import MAX_IMAGE_BYTES, ImageKind, store_image
from server.templating import render


async def upload_bytes(form: FormData, field: str) -> bytes:
    item = form.get(field)
    if not isinstance(item, UploadFile):
        raise Invalid("请选择要上传的图片", fields={field: "请选择图片文件"})
    return await item.read(MAX_IMAGE_BYTES + 1)


async def lecturer_list(request: Request) -> Response:
    params = query(request)
    category = params.get("category") or None
    q = params.get("q", "")
    number = page_of(request)

    async def produce() -> dict[str, Any]:
        async with request.app.state.runtime.sessions() as db:
            people = await roster.list_lecturers(db, category=category, q=q, page=number)
        return view(request, people=people, category=category, q=q[:40])

    return await pagecache.page(request, key=f"lecturers:{category}:{number}:{q}", template="lecturers.html",
                                produce=produce, ttl_s=pagecache.CATALOGUE_TTL_S)


async def lecturer_page(request: Request) -> Response:
    lecturer_id = path_int(request, "id")
    number = page_of(request)

    async def produce() -> dict[str, Any]:
        async with request.app.state.runtime.sessions() as db:
            lecturer = await roster.get_lecturer(db, lecturer_id)
            count, reach = await roster.lecturer_stats(db, lecturer_id)
            lectures = await catalogue.published_page(db, page=number, lecturer_id=lecturer_id)
        return view(request, lecturer=lecturer, lecture_count=count, reach=reach, lectures=lectures)

    return await pagecache.page(request, key=f"lecturer:{lecturer_id}:{number}", template="lecturer.html",
                                produce=produce)


async def _own(request: Request) -> int:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        own = await roster.lecturer_for_user(db, actor.user_id)
    if own is None or own.id is None:
        raise NotFound("您的账号还没有关联讲师资料，请联系管理员")
    return own.id


async def my_profile(request: Request) -> Response:
    lecturer_id = await _own(request)
    async with request.app.state.runtime.sessions() as db:
        lecturer = await roster.get_lecturer(db, lecturer_id)
    return await render(request, "admin/lecturer_form.html", view(
        request, lecturer=lecturer, form=roster.snapshot(lecturer), errors={}, self_edit=True,
        action="/me/lecturer"))


async def my_profile_save(request: Request) -> Response:
    lecturer_id = await _own(request)
    actor = await actor_of(request)
    form = await request.form()
    values, errors = roster.clean_lecturer(form, allow_link=False)
    if errors:
        async with request.app.state.runtime.sessions() as db:
            lecturer = await roster.get_lecturer(db, lecturer_id)
        return await render(request, "admin/lecturer_form.html", view(
            request, lecturer=lecturer, form=dict(form), errors=errors, self_edit=True, action="/me/lecturer"),
            status=422)
    async with transaction(request.app.state.runtime.sessions) as db:
        await roster.save_lecturer(db, actor=actor, lecturer_id=lecturer_id, values=values, ip=client_ip(request))
    snapshot.forget()
    return redirect(f"/lecturers/{lecturer_id}")


async def my_photo(request: Request) -> Response:
    lecturer_id = await _own(request)
    return await save_photo(request, lecturer_id, back="/me/lecturer")


async def save_photo(request: Request, lecturer_id: int, *, back: str) -> Response:
    actor = await actor_of(request)
    runtime = request.app.state.runtime
    data = await upload_bytes(await request.form(), "photo")
    key = await store_image(runtime.storage, data, ImageKind.avatar)
    async with transaction(runtime.sessions) as db:
        await roster.set_photo(db, actor=actor, lecturer_id=lecturer_id, key=key, ip=client_ip(request))
    snapshot.forget()
    return redirect(back)


routes = [
    route("/lecturers", lecturer_list, access=Access.browse),
    route("/lecturers/{id}", lecturer_page, access=Access.browse),
    route("/me/lecturer", my_profile, access=Access.lecturer),
    route("/me/lecturer", my_profile_save, access=Access.lecturer, methods=("POST",), name="my_profile_save"),
    route("/me/lecturer/photo", my_photo, access=Access.lecturer, methods=("POST",)),
]
