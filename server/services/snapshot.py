"""A tiny per-process cache of read-only snapshots that are the same for every visitor (a few seconds old at most).

Concurrent misses for one key share a single computation, so a burst of visitors costs one set of queries;
while an expired entry is being recomputed, the other visitors get the expired copy (seconds old) instead
of queueing behind the recomputation.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

MAX_ENTRIES = 2048
_store: dict[str, tuple[float, Any]] = {}
_locks: dict[str, anyio.Lock] = {}


async def cached(key: str, ttl_s: float, produce: Callable[[], Awaitable[Any]]) -> Any:
    hit = _store.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    lock = _locks.setdefault(key, anyio.Lock())
    if hit is not None and lock.locked():
        return hit[1]
    async with lock:
        hit = _store.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        value = await produce()
        if len(_store) >= MAX_ENTRIES:
            _store.clear()
            _locks.clear()
        _store[key] = (time.monotonic() + ttl_s, value)
        return value


def forget() -> None:
    """Drop everything (after an edit, so the editor sees the change at once in this process)."""
    _store.clear()

