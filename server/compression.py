"""Gzip negotiation for the responses worth compressing, decided where they are produced.

Not a middleware: that would cost every request (heartbeats above all) a wrapper, and would compress shared
pages afresh each time where server.pagecache sends pre-compressed pieces instead.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

from starlette.responses import Response
from starlette.types import Scope

VARY = (b"vary", b"Accept-Encoding")
GZIP = (b"content-encoding", b"gzip")
MIN_BYTES = 1024  # below this, a gzip header and trailer and the CPU buy little on any network
FRESH_LEVEL = 6  # pages rendered per request: most of level 9's saving for a fraction of its time
_GZIP_NAMES = frozenset({"gzip", "x-gzip"})  # RFC 9110 §8.4.1.3: x-gzip is the same coding


@lru_cache(maxsize=256)  # browsers send a handful of distinct values
def gzip_allowed(accept_encoding: bytes) -> bool:
    """Whether an Accept-Encoding value lets us send gzip: listed (or ``*`` when it is not) with q > 0."""
    named: float | None = None
    star: float | None = None
    for item in accept_encoding.decode("latin-1").split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0  # a weight we cannot read: do not take it as consent
        if coding in _GZIP_NAMES:
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    chosen = named if named is not None else star
    return chosen is not None and chosen > 0


def accepts_gzip(scope: Scope) -> bool:
    values = [value for name, value in scope["headers"] if name == b"accept-encoding"]
    return bool(values) and gzip_allowed(b",".join(values))


def gzip_bytes(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip wrapper, mtime 0
    return compressor.compress(data) + compressor.flush()


def add_vary(response: Response) -> None:
    """Caches must key this response by Accept-Encoding: its body depends on it."""
    for i, (name, value) in enumerate(response.raw_headers):
        if name == b"vary":
            if b"accept-encoding" not in value.lower():
                response.raw_headers[i] = (name, value + b", Accept-Encoding")
            return
    response.raw_headers.append(VARY)


def compress_fresh(scope: Scope, response: Response) -> Response:
    """Gzip a response rendered for this request alone (a fresh page, an error page) if the client takes it."""
    add_vary(response)
    body = response.body
    if (len(body) < MIN_BYTES or response.status_code in (204, 304) or scope["method"] == "HEAD"
            or not accepts_gzip(scope)):
        return response
    response.body = gzip_bytes(bytes(body), FRESH_LEVEL)
    response.headers["content-length"] = str(len(response.body))
    response.raw_headers.append(GZIP)
    return response
