"""Rendered pages shared by a whole class of viewers, with holes for the personal bits.

Catalogue pages (home, roster, lecturer, series, lecture, search results) look the same to every
signed-in worker, and to every anonymous visitor where anonymous browsing is on: only the header's
name, the CSRF token and, on a lecture page, the viewer's own progress and check-in differ. Such a
page is rendered once per process, key and viewer class, kept in the snapshot cache for seconds to
minutes (server.services.snapshot: forgotten at once when a catalogue change commits in any process,
server.catalogue_events) with markers where
the personal bits go, and every request just fills the markers in. Admins, unit admins and lecturers
(who may see drafts, edit, or get extra links) always get a fresh render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from server.auth import Principal, load_principal
from server.compression import GZIP, VARY, accepts_gzip
from server.deflate_pieces import GzipPieces
from server.models.people import Role
from server.permissions import Actor
from server.routes.base import site_base
from server.services import snapshot
from server.templating import render

MARK = "\x1e"  # a control character: a page whose text contains one anyway is simply not shared
CSRF, USER = "csrf", "user"
PAGE_TTL_S = 5.0  # pages that also show attendance figures, which change without a catalogue notification
# Pages built from catalogue rows alone: any change to those reaches every process at once
# (server.catalogue_events), so the time limit only bounds what a lost notification could cost.
CATALOGUE_TTL_S = 300.0
MAX_FRAGMENTS = 64
MAX_TOKENS = 20_000  # CSRF tokens are at most 100 characters (server.middleware): ≤ 2 MB of escaped ones


def slot(name: str) -> Markup:
    return Markup(f"{MARK}{name}{MARK}")  # noqa: S704 - a fixed marker, replaced before sending


@dataclass
class SharedPage:
    chunks: list[bytes]                      # literal HTML; between each pair, the slot named in ``slots``
    slots: list[str]
    data: dict[str, Any] = field(default_factory=dict)        # what personal fragments are rendered from
    fragments: dict[Hashable, dict[str, bytes]] = field(default_factory=dict)  # personal fragments, by state

    @cached_property
    def gzip(self) -> GzipPieces:
        """The chunks compressed once, on the first request that takes gzip, for every later one."""
        return GzipPieces(self.chunks)


def viewer_class(principal: Principal | None) -> str | None:
    """Who sees the same page: 'anon', 'worker', or None (render afresh)."""
    if principal is None:
        return "anon"
    return "worker" if principal.actor.roles <= {Role.worker.value} else None


class _ClassUser:
    """The ``user`` a shared render sees: signed in, name left as a hole."""

    name = slot(USER)

    def __bool__(self) -> bool:
        return True


def _split(html: str, data: dict[str, Any], slots: set[str]) -> SharedPage | None:
    parts = html.split(MARK)
    if len(parts) % 2 == 0 or not set(parts[1::2]) <= slots:
        return None
    return SharedPage([p.encode() for p in parts[0::2]], parts[1::2], data)


async def shared(request: Request, *, key: str, viewer: str, template: str,
                 produce: Callable[[], Awaitable[dict[str, Any] | None]],
                 personal: tuple[str, ...] = (), ttl_s: float = PAGE_TTL_S) -> SharedPage | None:
    """The page for this viewer class, rendered at most once per ``ttl_s``; None if ``produce`` says
    this page is not for sharing (e.g. a draft: whoever may see it gets a fresh render)."""
    runtime = request.app.state.runtime
    base = site_base(request)  # share links and og:url in the page use it

    async def render_shared() -> SharedPage | None:
        context = await produce()
        if context is None:
            return None
        env: Environment = request.app.state.templates
        signed_in = viewer != "anon"
        html = env.get_template(template).render(
            request=request, settings=runtime.settings, principal=None,
            user=_ClassUser() if signed_in else None,
            actor=Actor(0, frozenset({Role.worker.value}), None) if signed_in else None,
            csrf_token=slot(CSRF), **context)
        return _split(html, context, {CSRF, USER, *personal})

    cache_key = f"{runtime.settings.database_url}|page|{base}|{viewer}|{key}"
    page: SharedPage | None = await snapshot.cached(cache_key, ttl_s, render_shared)
    return page


def fragments(page: SharedPage, state: Hashable, render: Callable[[], Mapping[str, str]]) -> Mapping[str, bytes]:
    """The personal fragments of ``page`` (slot name -> HTML) for viewers in ``state`` (same state, same HTML),
    encoded; ``render`` runs only for a state not seen yet."""
    hit = page.fragments.get(state)
    if hit is None:
        if len(page.fragments) >= MAX_FRAGMENTS:
            page.fragments.clear()
        hit = page.fragments[state] = {name: html.encode() for name, html in render().items()}
    return hit


@lru_cache(maxsize=MAX_TOKENS)  # a browser sends the same CSRF cookie with every page it asks for
def _escaped_token(token: str) -> bytes:
    return str(escape(token)).encode()


def respond(request: Request, page: SharedPage, principal: Principal | None,
            fills: Mapping[str, bytes] | None = None) -> Response:
    values = {CSRF: _escaped_token(request.scope.get("state", {}).get("csrf_token", "")),
              USER: principal.name_html if principal else b"", **(fills or {})}
    personal = [values[name] for name in page.slots]
    if request.scope["method"] != "HEAD" and accepts_gzip(request.scope):
        response = HTMLResponse(page.gzip.assemble(personal))
        response.raw_headers += (VARY, GZIP)
        return response
    body: list[bytes] = [page.chunks[0]]
    for fill, chunk in zip(personal, page.chunks[1:], strict=True):
        body.append(fill)
        body.append(chunk)
    response = HTMLResponse(b"".join(body))
    response.raw_headers.append(VARY)
    return response


async def page(request: Request, *, key: str, template: str, produce: Callable[[], Awaitable[dict[str, Any]]],
               ttl_s: float = PAGE_TTL_S) -> Response:
    """A page with nothing personal but the header: shared where the viewer class allows, else fresh."""
    principal = await load_principal(request)
    viewer = viewer_class(principal)
    if viewer is not None:
        found = await shared(request, key=key, viewer=viewer, template=template, produce=produce, ttl_s=ttl_s)
        if found is not None:
            return respond(request, found, principal)
    return await render(request, template, await produce())
