"""Worker process entry: open the runtime, run procrastinate's worker until stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import time

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued

import worker.tasks  # noqa: F401  (registers the tasks on job_app)
from server.jobs import connected
from server.runtime import Runtime
from server.settings import Settings
from worker import recovery
from worker.context import set_runtime
from worker.tasks import RECOVER_STALLED_TASK


async def run_worker(settings: Settings, *, wait: bool = True) -> None:
    runtime = Runtime.build(settings)
    set_runtime(runtime)
    await runtime.open()
    try:
        with connected(settings.database_url or "") as app:
            async with app.open_async():
                await _recover_on_start(app, settings)
                await app.run_worker_async(
                    concurrency=settings.worker_concurrency,
                    name=f"{socket.gethostname()}-{os.getpid()}",
                    wait=wait,
                    install_signal_handlers=wait,
                    update_heartbeat_interval=settings.worker_heartbeat_s,
                    # Retried jobs are not announced (no NOTIFY): poll at least as often as we beat.
                    fetch_job_polling_interval=min(5.0, settings.worker_heartbeat_s),
                    stalled_worker_timeout=recovery.stalled_after_s(settings),
                )
    finally:
        await runtime.close()
        set_runtime(None)


async def _recover_on_start(app: procrastinate.App, settings: Settings) -> None:
    """A worker restarted after a crash picks up its lost jobs soon rather than at the next periodic run:
    once the dead worker's last heartbeat is old enough to count as stalled."""
    after = recovery.stalled_after_s(settings) + settings.worker_heartbeat_s
    task = app.configure_task(name=RECOVER_STALLED_TASK, lock=recovery.LOCK, queueing_lock=recovery.LOCK,
                              schedule_in={"seconds": after})
    with contextlib.suppress(AlreadyEnqueued):
        await task.defer_async(timestamp=int(time.time()))
