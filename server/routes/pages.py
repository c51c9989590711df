"""The home page: featured series, latest online and upcoming offline lectures, lecturers by category."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server import pagecache
from server.permissions import Access
from server.routes.base import route
from server.routes.catalogue_view import view
from server.services import catalogue, roster
from server.services.snapshot import cached

# Catalogue rows, and the clock: an offline lecture that has started leaves "upcoming" within this.
HOME_TTL_S = 60.0


async def _home_data(request: Request) -> dict[str, object]:
    async with request.app.state.runtime.sessions() as db:
        series = await catalogue.all_series(db, featured_only=True) or await catalogue.all_series(db)
        latest = await catalogue.latest_online(db)
        upcoming = await catalogue.upcoming_offline(db)
        billed = await catalogue.lecturers_of(db, [lec.id for lec in latest + upcoming if lec.id])
        people = await roster.lecturers_by_category(db)
    return {"series": series[:6], "latest": latest, "upcoming": upcoming, "billed": billed, "people": people}


async def _home_view(request: Request) -> dict[str, object]:
    # Published content is the same for everyone, so one snapshot serves all visitors.
    scope = request.app.state.runtime.settings.database_url
    data = await cached(f"{scope}|home", HOME_TTL_S, lambda: _home_data(request))
    return view(request, **data)


async def home(request: Request) -> Response:
    return await pagecache.page(request, key="home", template="home.html", produce=lambda: _home_view(request),
                                ttl_s=HOME_TTL_S)


routes = [route("/", home, access=Access.browse)]
