"""The "我的学习" page: a worker's own lectures, progress, study time and offline check-ins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.permissions import Access
from server.routes.base import actor_of, route
from server.routes.catalogue_view import page_of, view
from server.services.learning import my_learning
from server.templating import render


async def learning_page(request: Request) -> Response:
    actor = await actor_of(request)
    async with request.app.state.runtime.sessions() as db:
        page = await my_learning(db, user_id=actor.user_id, page=page_of(request))
    return await render(request, "me/learning.html", view(request, page=page))


routes = [route("/me/learning", learning_page, access=Access.signed_in)]
