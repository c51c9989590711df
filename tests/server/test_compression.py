"""Gzip through the real app: static files compressed once, shared pages assembled from pre-compressed
pieces with each viewer's own bits, fresh pages compressed per request, and identity when not accepted."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable

import httpx
import pytest

from server.compression import gzip_allowed
from server.models.people import Role
from server.runtime import Runtime
from server.templating import STATIC_DIR
from tests.factories import make_user, sign_in
from tests.server.attendance_fixtures import online_lecture

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
GZIP = {"Accept-Encoding": "gzip, deflate, br"}
IDENTITY = {"Accept-Encoding": "identity"}
HLS = "/static/vendor/hls.min.js?v=test"


async def fetch(client: httpx.AsyncClient, path: str, headers: dict[str, str],
                method: str = "GET") -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (httpx would otherwise decode it)."""
    async with client.stream(method, path, headers=headers) as response:
        raw = b"".join([part async for part in response.aiter_raw()])
    return response, raw


def decoded(response: httpx.Response, raw: bytes) -> bytes:
    assert response.headers.get("content-length") == str(len(raw))
    return gzip.decompress(raw) if response.headers.get("content-encoding") == "gzip" else raw


@pytest.mark.parametrize(("value", "allowed"), [
    (b"gzip, deflate, br", True), (b"GZIP", True), (b"x-gzip", True), (b"br;q=1.0, gzip;q=0.5", True),
    (b"gzip;q=0", False), (b"gzip; q=0.000", False), (b"identity", False), (b"", False), (b"*", True),
    (b"*;q=0", False), (b"gzip;q=0, *", False), (b"*;q=0, gzip", True), (b"deflate, *;q=0.1", True),
    (b"gzip;q=oops", False), (b"gzipx", False),
])
def test_accept_encoding_weights(value: bytes, allowed: bool) -> None:
    assert gzip_allowed(value) is allowed


async def test_static_text_is_gzipped_once_and_cached_per_variant(client: httpx.AsyncClient) -> None:
    original = (STATIC_DIR / "vendor/hls.min.js").read_bytes()
    zipped, raw = await fetch(client, HLS, GZIP)
    plain, plain_raw = await fetch(client, HLS, IDENTITY)
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert decoded(zipped, raw) == decoded(plain, plain_raw) == original
    assert len(raw) < len(original) // 2
    for response in (zipped, plain):
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-type"].startswith("text/javascript")
    assert zipped.headers["etag"] == plain.headers["etag"][:-1] + '-gzip"'
    again, _ = await fetch(client, HLS, GZIP)
    assert again.headers["etag"] == zipped.headers["etag"]

    for headers, etag in ((GZIP, zipped.headers["etag"]), (IDENTITY, plain.headers["etag"])):
        cached = await client.get(HLS, headers={**headers, "If-None-Match": etag})
        assert cached.status_code == 304 and cached.headers["etag"] == etag and cached.content == b""
        assert cached.headers["vary"] == "Accept-Encoding"
    stale = await client.get(HLS, headers={**IDENTITY, "If-None-Match": zipped.headers["etag"]})
    assert stale.status_code == 200 and stale.content == original


async def test_ranges_and_head_stay_correct(client: httpx.AsyncClient) -> None:
    original = (STATIC_DIR / "vendor/hls.min.js").read_bytes()
    part, raw = await fetch(client, HLS, {**GZIP, "Range": "bytes=100-199"})
    assert part.status_code == 206 and "content-encoding" not in part.headers and raw == original[100:200]
    assert part.headers["vary"] == "Accept-Encoding"
    zipped, _ = await fetch(client, HLS, GZIP)
    head, _ = await fetch(client, HLS, GZIP, method="HEAD")
    assert head.status_code == 200 and head.headers["content-encoding"] == "gzip"
    assert head.headers["content-length"] == zipped.headers["content-length"]
    assert head.headers["etag"] == zipped.headers["etag"]


async def test_small_or_binary_static_files_stay_identity(client: httpx.AsyncClient) -> None:
    small, raw = await fetch(client, "/static/img/avatar.svg", GZIP)  # 269 bytes
    assert small.status_code == 200 and "content-encoding" not in small.headers and "vary" not in small.headers
    assert raw == (STATIC_DIR / "img/avatar.svg").read_bytes()
    css, raw = await fetch(client, "/static/css/app.css", {"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in css.headers and raw == (STATIC_DIR / "css/app.css").read_bytes()
    assert css.headers["cache-control"] == "public, max-age=300"


async def test_shared_pages_are_gzipped_with_each_viewers_own_bits(
        runtime: Runtime, make_client: Callable[[], httpx.AsyncClient]) -> None:
    lecture = await online_lecture(runtime, duration_s=600)
    people = {"甲职工": await make_user(runtime, name="甲职工"), "乙职工": await make_user(runtime, name="乙职工")}
    clients = {name: await sign_in(make_client(), runtime, user) for name, user in people.items()}
    for path in ("/", f"/lectures/{lecture.id}"):
        for name, client in clients.items():
            response, raw = await fetch(client, path, GZIP)
            assert response.status_code == 200 and response.headers["content-encoding"] == "gzip", path
            assert response.headers["vary"] == "Accept-Encoding"
            text = decoded(response, raw).decode()
            other = next(n for n in clients if n != name)
            assert name in text and other not in text and "\x1e" not in text, path
            meta = CSRF_META.search(text)
            assert meta and meta.group(1) == client.cookies["jt_csrf"], path
            plain, plain_raw = await fetch(client, path, {"Accept-Encoding": "gzip;q=0"})
            assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
            assert decoded(plain, plain_raw).decode() == text, path


async def test_fresh_and_error_pages_are_gzipped_per_request(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await sign_in(client, runtime, await make_user(runtime, Role.worker, Role.admin))
    for path, status in (("/admin", 200), ("/no-such-page", 404)):
        response, raw = await fetch(client, path, GZIP)
        assert response.status_code == status and response.headers["vary"] == "Accept-Encoding", path
        assert response.headers["content-encoding"] == "gzip", path
        text = decoded(response, raw).decode()
        assert "</html>" in text
        plain, plain_raw = await fetch(client, path, {"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in plain.headers and decoded(plain, plain_raw).decode() == text
    head, _ = await fetch(client, "/admin", GZIP, method="HEAD")
    assert head.status_code == 200 and "content-encoding" not in head.headers
