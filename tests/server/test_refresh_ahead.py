"""The refresh-ahead cache: expired entries are served while one background task recomputes them."""

from __future__ import annotations

import asyncio

import pytest

from server.refresh_ahead import RefreshAheadCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """Counts computations; each can be held open until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def produce(self) -> tuple[int, float]:
        self.calls += 1
        call = self.calls
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        return call, 10.0


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_concurrent_misses_share_one_computation() -> None:
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(jitter=0, stale_s=5, max_entries=10, clock=Clock())
    source = Source()
    source.gate.clear()
    waiting = [asyncio.create_task(cache.get("k", source.produce)) for _ in range(5)]
    await settle()
    source.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 5 and source.calls == 1


async def test_expired_entry_is_served_while_refreshed_in_the_background() -> None:
    clock = Clock()
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(jitter=0, stale_s=5, max_entries=10, clock=clock)
    source = Source()
    assert await cache.get("k", source.produce) == 1
    clock.now += 9
    assert await cache.get("k", source.produce) == 1 and source.calls == 1  # fresh
    clock.now += 2
    source.gate.clear()
    assert await cache.get("k", source.produce) == 1  # expired: answered at once, refresh started
    await settle()
    assert await cache.get("k", source.produce) == 1
    await settle()
    assert source.calls == 2  # one refresh at a time
    source.gate.set()
    await settle()
    assert await cache.get("k", source.produce) == 2


async def test_too_old_entry_is_recomputed_in_the_request() -> None:
    clock = Clock()
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(jitter=0, stale_s=5, max_entries=10, clock=clock)
    source = Source()
    await cache.get("k", source.produce)
    clock.now += 16
    assert await cache.get("k", source.produce) == 2


async def test_a_computation_started_before_forget_stores_nothing() -> None:
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(jitter=0, stale_s=5, max_entries=10, clock=Clock())
    source = Source()
    source.gate.clear()
    early = asyncio.create_task(cache.get("k", source.produce))
    await settle()
    cache.forget("k")
    source.gate.set()
    assert await early == 1  # its own caller still gets what it read
    assert await cache.get("k", source.produce) == 2  # but the next one reads afresh
    cache.forget_all(keep=lambda key, _: key != "k")
    assert await cache.get("k", source.produce) == 3


async def test_failed_background_refresh_keeps_serving_then_gives_up(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(jitter=0, stale_s=5, max_entries=10, clock=clock)
    source = Source()
    await cache.get("k", source.produce)
    source.fail = True
    clock.now += 12
    assert await cache.get("k", source.produce) == 1
    await settle()
    assert await cache.get("k", source.produce) == 1
    await settle()
    assert source.calls == 3  # the failed refresh is tried again by the next request
    clock.now += 5
    with pytest.raises(RuntimeError):
        await cache.get("k", source.produce)


async def test_a_value_that_is_gone_is_not_served_stale() -> None:
    clock = Clock()
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(jitter=0, stale_s=60, max_entries=10, clock=clock,
                                                           gone=(LookupError,))
    assert await cache.get("k", Source().produce) == 1

    async def gone() -> tuple[int, float]:
        raise LookupError("deleted")

    clock.now += 11
    assert await cache.get("k", gone) == 1  # the refresh starts in the background
    await settle()
    with pytest.raises(LookupError):  # and took the entry with it
        await cache.get("k", gone)


async def test_freshness_is_cut_by_a_random_share_of_the_time_to_live() -> None:
    clock = Clock()
    cache: RefreshAheadCache[str, int] = RefreshAheadCache(stale_s=5, max_entries=10, clock=clock, jitter=0.5,
                                                           fraction=lambda: 1.0)
    source = Source()
    await cache.get("k", source.produce)  # time to live 10 s, cut by half
    clock.now += 4.9
    await cache.get("k", source.produce)
    await settle()
    assert source.calls == 1
    clock.now += 0.2
    await cache.get("k", source.produce)
    await settle()
    assert source.calls == 2
