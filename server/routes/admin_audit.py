"""Admin page for the audit log: filter by actor and action, paginated, with before/after differences."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.ids import is_digits
from server.pagination import Page, page_number
from server.permissions import Access
from server.routes.base import route
from server.services import audit
from server.templating import render

PER_PAGE = 30


async def audit_page(request: Request) -> Response:
    raw_actor = request.query_params.get("actor", "")
    actor_id = int(raw_actor) if is_digits(raw_actor) and len(raw_actor) < 12 else None
    action = request.query_params.get("action", "")[:60]
    page = page_number(request.query_params.get("page"))
    async with request.app.state.runtime.sessions() as db:
        rows, total = await audit.list_entries(db, actor_id=actor_id, action=action, page=page, per_page=PER_PAGE)
        actions = await audit.actions(db)
    items = [(entry, name, audit.diff(entry.before, entry.after)) for entry, name in rows]
    return await render(request, "admin/audit.html", {"page": Page(items, page, PER_PAGE, total),
                                                      "actor_id": actor_id, "action": action, "actions": actions})


routes = [route("/admin/audit", audit_page, access=Access.admin)]
