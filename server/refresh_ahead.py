"""A per-process cache that refreshes entries in the background instead of making a request wait.

Busy pages read a few things that may be seconds old: the person behind a session cookie, a person's
study state, a shared page render. Recomputing one means database round trips, and on a loaded event
loop every round trip waits behind everything else that is ready, so a request that happened to find
an entry expired took many times longer than the rest. Here an expired entry is still served while one
background task recomputes it, as long as it is no older than ``ttl + stale_s``; only a key never seen
(or forgotten, or too old) is computed in the request, and concurrent requests for it share one
computation.

Each entry stays fresh for its time to live shortened by a random fraction up to ``jitter``: entries
computed together (every signed-in person's session at start-up, after a pause, after a burst of new
visitors) would otherwise expire together, and their recomputations — about a millisecond of CPU each —
arrived as one burst that held up every request behind it (p99 120-170 ms for a hundred people's
sessions). Spread over a quarter of the time to live, they cost the same and hold up nobody.

``forget`` drops entries at once (after this process changes what they were computed from). A
computation that started before the ``forget`` of its key does not store its result, since it may have
read the old data.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = structlog.get_logger()

# A computation gives the value and how many seconds it stays fresh.
Produce = Callable[[], Awaitable[tuple[V, float]]]


class RefreshAheadCache(Generic[K, V]):
    def __init__(self, *, stale_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic,
                 gone: tuple[type[BaseException], ...] = (), jitter: float = 0.25,
                 fraction: Callable[[], float] = random.random) -> None:
        """``gone``: errors that mean the value no longer exists (e.g. not found), as opposed to an outage;
        a refresh failing with one drops the entry, so the next request gets the error instead of the old value.
        ``jitter``: the largest share of the time to live an entry's freshness is cut by (``fraction`` of it)."""
        self._clock = clock
        self._jitter = jitter
        self._fraction = fraction
        self._gone = gone
        self._stale_s = stale_s
        self._max_entries = max_entries
        self._store: dict[K, tuple[float, V]] = {}  # key -> (fresh until, value)
        # The computation whose result a key will store; a forgotten one is dropped from here, and a
        # computation stores its result only if it is still the one registered for its key.
        self._running: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K, produce: Produce[V]) -> V:
        hit = self._store.get(key)
        if hit is not None:
            now = self._clock()
            if now < hit[0]:
                return hit[1]
            if now < hit[0] + self._stale_s:
                if key not in self._running:
                    self._start(key, produce).add_done_callback(_log_failure)
                return hit[1]
        running = self._running.get(key) or self._start(key, produce)
        return await asyncio.shield(running)

    def forget(self, key: K) -> None:
        self._store.pop(key, None)
        self._running.pop(key, None)

    def forget_all(self, keep: Callable[[K, V], bool] | None = None) -> None:
        """Drop every entry, or those for which ``keep`` is false."""
        if keep is None:
            self._store.clear()
            self._running.clear()
            return
        self._store = {k: hit for k, hit in self._store.items() if keep(k, hit[1])}
        self._running = {k: task for k, task in self._running.items() if k in self._store}

    def _start(self, key: K, produce: Produce[V]) -> asyncio.Task[V]:
        task = asyncio.create_task(self._compute(key, produce))
        self._running[key] = task
        return task

    async def _compute(self, key: K, produce: Produce[V]) -> V:
        me = asyncio.current_task()
        try:
            started = self._clock()
            try:
                value, ttl_s = await produce()
            except self._gone:
                if self._running.get(key) is me:
                    self._store.pop(key, None)
                raise
            if self._running.get(key) is me:
                if len(self._store) >= self._max_entries and key not in self._store:
                    self._store.clear()
                self._store[key] = (started + ttl_s * (1 - self._jitter * self._fraction()), value)
            return value
        finally:
            if self._running.get(key) is me:
                del self._running[key]


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The stale value went on being served; the next request past the fresh period tries again.
        log.warning("background_refresh_failed", error=repr(task.exception()))
