"""Jinja2 environment and page rendering with the globals every page needs."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

import web
from server.auth import load_principal
from server.compression import compress_fresh

WEB_DIR = Path(web.__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


@lru_cache(maxsize=512)
def _static_version(path: str) -> str:
    target = (STATIC_DIR / path).resolve()
    if not target.is_file() or STATIC_DIR.resolve() not in target.parents:
        return "0"
    return hashlib.sha256(target.read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    """A cache-busting URL: the content hash lets browsers cache static files for a year."""
    return f"/static/{path}?v={_static_version(path)}"


def make_environment(*, auto_reload: bool = True) -> Environment:
    """One per app: templates are compiled once; ``auto_reload`` (development) re-checks the files on each use."""
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html", "xml"]),
                      trim_blocks=True, lstrip_blocks=True, enable_async=False, auto_reload=auto_reload,
                      cache_size=1000)
    env.globals["static"] = static_url
    return env


async def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
                 status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    runtime = request.app.state.runtime
    principal = await load_principal(request)
    env: Environment = request.app.state.templates
    page = env.get_template(template).render(
        request=request,
        settings=runtime.settings,
        principal=principal,
        user=principal.user if principal else None,
        actor=principal.actor if principal else None,
        csrf_token=request.scope.get("state", {}).get("csrf_token", ""),
        **(context or {}),
    )
    return compress_fresh(request.scope, HTMLResponse(page, status_code=status, headers=headers))
