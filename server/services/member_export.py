"""Member list export to XLSX in bounded memory (openpyxl write-only), safe against formula injection.

The columns match the import template, so an exported file can be edited and imported back.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO

import anyio
from openpyxl import Workbook
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models.people import Unit, User
from server.permissions import Actor, scope_prefix
from server.services.people import role_labels
from server.services.units import all_units, full_names

HEADER = ["姓名", "手机号", "工号", "单位", "角色", "状态", "已设置密码"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def escape_cell(value: str | None) -> str:
    """Text that spreadsheet programs would run as a formula gets a leading apostrophe."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_row(person: User, unit_full_name: str) -> list[str]:
    return [escape_cell(v) for v in (person.name, person.phone, person.employee_no, unit_full_name,
                                     role_labels(person.roles), "正常" if person.is_active else "已停用",
                                     "是" if person.password_hash else "否")]


async def write_members(db: AsyncSession, actor: Actor, *, unit_path: str | None = None) -> IO[bytes]:
    """A temporary file holding the XLSX of every person in scope, rewound for reading."""
    names = full_names(await all_units(db))
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("人员")
    sheet.append(HEADER)
    query = select(User).outerjoin(Unit, Unit.id == User.unit_id).order_by(User.id)
    for prefix in (scope_prefix(actor), unit_path):
        if prefix is not None:
            query = query.where(Unit.path.startswith(prefix))  # type: ignore[union-attr]
    result = await db.stream_scalars(query.execution_options(yield_per=BATCH))
    async for person in result:
        sheet.append(export_row(person, names.get(person.unit_id, "") if person.unit_id else ""))  # type: ignore[arg-type]
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 — handed to the response
    await anyio.to_thread.run_sync(workbook.save, out)
    out.seek(0)
    return out


async def chunks(handle: IO[bytes], size: int = 64 * 1024) -> AsyncIterator[bytes]:
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()
