"""Demo content so a newcomer sees a living site. Each feature area adds its part here."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models.people import User
from server.runtime import Runtime
from server.services.bootstrap import ensure_root_unit


async def load_demo(runtime: Runtime, *, only_if_empty: bool) -> None:
    if only_if_empty:
        async with runtime.sessions() as db:
            people = (await db.execute(select(func.count()).select_from(User))).scalar_one()
        if people > 1:
            return
    await ensure_root_unit(runtime)
