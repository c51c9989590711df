"""What catalogue templates need besides data: labels, image URLs, local times, share links and QR codes."""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import segno
from starlette.datastructures import QueryParams
from starlette.requests import Request

from server.models.catalogue import CATEGORY_LABELS, STATUS_LABELS, VENUE_LABELS
from server.pagination import page_number
from server.routes.base import site_base
from server.search_text import excerpt, highlight
from server.services.images import image_url
from server.services.media import playback_urls
from server.workflow import STEPS

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_SHARED_QUERY = 200  # bytes; bounds what the parsed-query cache holds
WEEKDAYS = "一二三四五六日"


def local_time(value: datetime | None, *, with_weekday: bool = False) -> str:
    if value is None:
        return ""
    local = value.astimezone(LOCAL_TZ)
    text = local.strftime("%Y年%m月%d日 %H:%M")
    return f"{text}（周{WEEKDAYS[local.weekday()]}）" if with_weekday else text


def input_time(value: object) -> str:
    """A datetime-local input value in Beijing time (keeps what the user typed when re-rendering)."""
    if not isinstance(value, datetime):
        return str(value or "")
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def qr_svg(url: str, *, scale: int = 4) -> bytes:
    """A QR code of ``url`` as an SVG document (black on white, so it also scans on dark pages)."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, border=2, dark="#222", light="#fff",
                                    xmldecl=False, svgclass=None, lineclass=None)
    return out.getvalue()


@lru_cache(maxsize=2048)
def share_qr(url: str) -> bytes:
    """A lecture's share QR code. Encoding one takes tens of milliseconds of pure Python, so pages link to
    it as an image (fetched only when the share card scrolls into view, and an <img> is what WeChat's
    long-press "识别二维码" recognises) rather than inlining it into every render."""
    return qr_svg(url)


def absolute(request: Request, path: str) -> str:
    return site_base(request) + path


HELPERS: dict[str, Any] = {
    "img": image_url,
    "local_time": local_time,
    "input_time": input_time,
    "highlight": highlight,
    "excerpt": excerpt,
    "playback_urls": playback_urls,
    "CATEGORY_LABELS": {k.value: v for k, v in CATEGORY_LABELS.items()},
    "STATUS_LABELS": {k.value: v for k, v in STATUS_LABELS.items()},
    "VENUE_LABELS": {k.value: v for k, v in VENUE_LABELS.items()},
    "ACTION_LABELS": {k.value: v.label for k, v in STEPS.items()},
}


@lru_cache(maxsize=1024)
def _parse_query(raw: bytes) -> QueryParams:
    return QueryParams(raw)


def query(request: Request) -> QueryParams:
    """The request's query parameters. Catalogue pages are asked for with the same few query strings over and
    over (a category, a page number, a popular search), and parsing one cost more than filling in the cached
    page it names, so short ones are parsed once per process (QueryParams is immutable: safe to share)."""
    raw: bytes = request.scope["query_string"]
    return _parse_query(raw) if len(raw) <= MAX_SHARED_QUERY else request.query_params


def page_of(request: Request) -> int:
    return page_number(query(request).get("page"))


def page_url(request: Request, number: int) -> str:
    """The current URL with another page number (other filters kept)."""
    params = dict(request.query_params)
    params["page"] = str(number)
    return request.url.path + "?" + urlencode(params)


def view(request: Request, **context: Any) -> dict[str, Any]:
    return {**HELPERS, "page_url": lambda n: page_url(request, n), **context}
