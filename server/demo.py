"""Demo content so a newcomer sees a living site. Each feature area adds its part here."""

from __future__ import annotations

from sqlmodel import func, select

from server.models.people import User
from server.runtime import Runtime
from server.services import accounts_demo, catalogue_demo, media_demo, reports_demo
from server.services.bootstrap import ensure_root_unit


def demo_logins() -> str:
    lines = [f"演示账号（密码均为 {accounts_demo.DEMO_PASSWORD}）："]
    lines += [f"  {role}：{login}" for role, login in accounts_demo.DEMO_LOGINS.items()]
    return "\n".join(lines)


async def load_demo(runtime: Runtime, *, only_if_empty: bool) -> None:
    if only_if_empty:
        async with runtime.sessions() as db:
            people = (await db.exec(select(func.count()).select_from(User))).one()
        if people > 1:
            return
    await ensure_root_unit(runtime)
    await accounts_demo.load(runtime)
    await catalogue_demo.load(runtime)
    await media_demo.load(runtime)
    await reports_demo.load(runtime)
