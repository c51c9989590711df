"""Per-process snapshots that are the same for every visitor (shared page renders), seconds to minutes old.

Concurrent misses for one key share a single computation, so a burst of visitors costs one set of queries;
an expired snapshot goes on being served while it is recomputed in the background
(server.refresh_ahead), so no visitor waits for the recomputation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from server.errors import AppError
from server.refresh_ahead import RefreshAheadCache

MAX_ENTRIES = 2048
STALE_S = 60.0  # how long an expired snapshot may still be served while its recomputation is failing

# A page whose subject is gone (unpublished, deleted) raises NotFound: it is not served stale.
_cache: RefreshAheadCache[str, Any] = RefreshAheadCache(stale_s=STALE_S, max_entries=MAX_ENTRIES, gone=(AppError,))


async def cached(key: str, ttl_s: float, produce: Callable[[], Awaitable[Any]]) -> Any:
    async def timed() -> tuple[Any, float]:
        return await produce(), ttl_s

    return await _cache.get(key, timed)


def forget() -> None:
    """Drop everything (after an edit, so the editor sees the change at once in this process)."""
    _cache.forget_all()
