"""Static files with long-lived caching for content-hashed URLs, gzipped once per file version.

The vendored players and charts are hundreds of KB and phones fetch them over weak networks: each text file
is compressed once (level 9) when first looked up, in the thread Starlette already uses for the lookup, and
kept in memory for as long as its mtime and size stay the same.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import PurePath

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from server.compression import GZIP, MIN_BYTES, VARY, accepts_gzip, gzip_bytes

COMPRESSIBLE = frozenset({".css", ".js", ".mjs", ".json", ".svg", ".vtt", ".txt", ".map", ".html"})
STATIC_LEVEL = 9
MAX_RATIO = 0.9  # a variant saving less than this is not worth a second ETag and a decompression


def cache_control(scope: Scope) -> str:
    versioned = b"v=" in scope.get("query_string", b"")
    return "public, max-age=31536000, immutable" if versioned else "public, max-age=300"


def compressible(path: str, size: int) -> bool:
    return size >= MIN_BYTES and PurePath(path).suffix.lower() in COMPRESSIBLE


def worth_sending(size: int, compressed_size: int) -> bool:
    return compressed_size <= size * MAX_RATIO


@dataclass(frozen=True, slots=True)
class _Variant:
    mtime_ns: int
    size: int
    body: bytes | None  # None: gzip did not pay, serve the file as it is


class GzipVariants:
    """The gzip variant of each file version, compressed on first lookup; a changed file replaces its entry."""

    def __init__(self) -> None:
        self._by_path: dict[str, _Variant] = {}

    def ensure(self, full_path: str, found: os.stat_result) -> None:
        """Compress the file if this version is not known yet (blocking I/O: call in a thread)."""
        known = self._by_path.get(full_path)
        if known is not None and (known.mtime_ns, known.size) == (found.st_mtime_ns, found.st_size):
            return
        with open(full_path, "rb") as file:
            data = file.read()
        body = gzip_bytes(data, STATIC_LEVEL) if len(data) == found.st_size else None  # changed while read
        keep = body if body is not None and worth_sending(len(data), len(body)) else None
        self._by_path[full_path] = _Variant(found.st_mtime_ns, found.st_size, keep)

    def get(self, full_path: str, found: os.stat_result) -> bytes | None:
        known = self._by_path.get(full_path)
        if known is None or (known.mtime_ns, known.size) != (found.st_mtime_ns, found.st_size):
            return None
        return known.body


def gzip_response(identity: FileResponse, body: bytes) -> Response:
    """The gzip variant with the identity's type and date; its own ETag, as its bytes differ."""
    etag = identity.headers["etag"]
    headers = {"etag": f'{etag[:-1]}-gzip"', "last-modified": identity.headers["last-modified"],
               "content-type": identity.headers["content-type"]}
    response = Response(body, headers=headers)
    response.raw_headers.append(GZIP)
    return response


class CachedStaticFiles(StaticFiles):
    def __init__(self, *, directory: str | os.PathLike[str]) -> None:
        super().__init__(directory=directory)
        self.gzip = GzipVariants()

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # Starlette runs this in a worker thread: compressing here keeps the event loop free the one time.
        full_path, found = super().lookup_path(path)
        if found is not None and stat.S_ISREG(found.st_mode) and compressible(full_path, found.st_size):
            self.gzip.ensure(full_path, found)
        return full_path, found

    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        body = self.gzip.get(str(full_path), stat_result) if status_code == 200 else None
        if body is None:
            return super().file_response(full_path, stat_result, scope, status_code)
        request_headers = Headers(scope=scope)
        response: Response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        # A range is of the identity bytes (If-Range compares the identity ETag): the file serves it.
        if "range" not in request_headers and accepts_gzip(scope):
            response = gzip_response(response, body)
        response.raw_headers.append(VARY)
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):  # a 304 carries what the 200 would have (RFC 9110 §15.4.5)
            response.headers["Cache-Control"] = cache_control(scope)
        return response
