"""Cross-process invalidation of shared page renders: LISTEN for the catalogue triggers' NOTIFY.

Triggers on the catalogue tables (migration 0004) notify ``jt_catalogue`` when a transaction that changed
them commits, whichever process or tool made the change. Each server process listens on one dedicated
connection and forgets its shared renders (server.services.snapshot) on every notification, so an edit
shows on every server at once and renders can live for minutes instead of seconds. While the listening
connection is down nothing would tell this process about edits, so it forgets everything then too and
keeps trying to listen again; the renders' own time to live bounds staleness meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
import structlog

from server.services import snapshot

CHANNEL = "jt_catalogue"
RETRY_S = (0.5, 1.0, 2.0, 5.0, 10.0)

log = structlog.get_logger()


async def listen(url: str, on_ready: asyncio.Event | None = None) -> None:
    """Run until cancelled: forget shared renders on every catalogue change; reconnect with back-off."""
    failures = 0
    while True:
        try:
            # Keepalives: a connection that silently went away must not leave this process listening to nothing.
            async with await psycopg.AsyncConnection.connect(url, autocommit=True, keepalives=1, keepalives_idle=30,
                                                             keepalives_interval=10, keepalives_count=3) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                snapshot.forget()  # changes made while nobody listened
                failures = 0
                if on_ready is not None:
                    on_ready.set()
                async for _ in conn.notifies():
                    snapshot.forget()
        except Exception as exc:  # whatever broke the connection, this process must go on listening
            snapshot.forget()
            log.warning("catalogue_listener_lost", error=repr(exc))
        await asyncio.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
        failures += 1


class CatalogueListener:
    """The listening task of one server process (started and stopped with the app)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(listen(self._url, self.ready))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
