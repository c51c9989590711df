"""Admin pages for bulk member import: upload → per-row preview → commit (one transaction).

Between preview and commit the uploaded file waits in S3 under a random key that includes the
admin's id; the commit re-reads and re-validates it, so nothing the browser sends back is trusted. Files
never committed are removed after a day (server/services/purge.py).
"""

from __future__ import annotations

import re
from typing import Any

import anyio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from server import keys
from server.auth import client_ip
from server.db import transaction
from server.errors import AppError, Invalid
from server.permissions import Access
from server.routes.base import actor_of, route
from server.security import new_token
from server.services import member_import, member_sheet
from server.templating import render

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
FILENAME_RE = re.compile(r"[^\w.\-\u4e00-\u9fff ]")


async def import_page(request: Request) -> Response:
    return await render(request, "admin/import.html", {"stage": "upload", "columns": list(member_sheet.COLUMNS)})


async def _read_upload(upload: Any) -> tuple[bytes, str]:
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid("请选择要导入的文件", fields={"file": "请选择要导入的文件"})
    # Refuse by size before reading the file into memory or parsing it.
    member_sheet.check_size(upload.size or 0)
    data = await upload.read(member_sheet.MAX_IMPORT_BYTES + 1)
    member_sheet.check_size(len(data))
    return data, FILENAME_RE.sub("_", upload.filename)[-100:]


async def import_preview(request: Request) -> Response:
    actor = await actor_of(request)
    runtime = request.app.state.runtime
    form = await request.form()
    auto_create = form.get("auto_create_units") == "1"
    try:
        data, filename = await _read_upload(form.get("file"))
        rows = await anyio.to_thread.run_sync(member_sheet.read_rows, data, filename)
    except AppError as exc:
        return await render(request, "admin/import.html", {"stage": "upload", "message": exc.message,
                                                           "columns": list(member_sheet.COLUMNS)}, status=exc.status)
    async with runtime.sessions() as db:
        plan = await member_import.preview(db, actor, rows, auto_create_units=auto_create)
    token = new_token(24)
    await anyio.to_thread.run_sync(runtime.storage.put_bytes, keys.import_staging_key(actor.user_id, token), data)
    return await render(request, "admin/import.html", {
        "stage": "preview", "plan": plan, "token": token, "filename": filename, "auto_create": auto_create,
        "labels": member_import.COLUMN_LABELS})


async def import_commit(request: Request) -> Response:
    actor = await actor_of(request)
    runtime = request.app.state.runtime
    form = await request.form()
    token, filename = str(form.get("token") or ""), FILENAME_RE.sub("_", str(form.get("filename") or ""))[-100:]
    if not TOKEN_RE.match(token):
        raise Invalid("导入会话无效，请重新上传文件")
    key = keys.import_staging_key(actor.user_id, token)
    try:
        data = await anyio.to_thread.run_sync(runtime.storage.get_bytes, key)
    except Exception:
        raise Invalid("导入会话已失效，请重新上传文件") from None
    rows = await anyio.to_thread.run_sync(member_sheet.read_rows, data, filename or "import.xlsx")
    async with transaction(runtime.sessions) as db:
        plan = await member_import.apply(db, actor, rows, auto_create_units=form.get("auto_create_units") == "1",
                                         expected=str(form.get("expected") or ""), filename=filename,
                                         ip=client_ip(request))
    await anyio.to_thread.run_sync(runtime.storage.delete_prefix, key)
    return await render(request, "admin/import.html", {"stage": "done", "plan": plan, "filename": filename,
                                                       "labels": member_import.COLUMN_LABELS})


routes = [
    route("/admin/import", import_page, access=Access.unit_admin),
    route("/admin/import", import_preview, access=Access.unit_admin, methods=("POST",)),
    route("/admin/import/commit", import_commit, access=Access.unit_admin, methods=("POST",)),
]
