"""Worker process entry: open the runtime, run procrastinate's worker until stopped."""

from __future__ import annotations

import os
import socket

import worker.tasks  # noqa: F401  (registers the tasks on job_app)
from server.jobs import connected
from server.runtime import Runtime
from server.settings import Settings
from worker.context import set_runtime


async def run_worker(settings: Settings, *, wait: bool = True) -> None:
    runtime = Runtime.build(settings)
    set_runtime(runtime)
    await runtime.open()
    try:
        with connected(settings.database_url or "") as app:
            async with app.open_async():
                await app.run_worker_async(
                    concurrency=settings.worker_concurrency,
                    name=f"{socket.gethostname()}-{os.getpid()}",
                    wait=wait,
                    install_signal_handlers=wait,
                    update_heartbeat_interval=10,
                    stalled_worker_timeout=30,
                )
    finally:
        await runtime.close()
        set_runtime(None)
