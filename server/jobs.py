"""procrastinate wiring shared by the server (which defers jobs by task name) and the worker.

The server never imports worker code: each Runtime gets its own task-less App and defers by name;
the worker registers its tasks on ``job_app`` (worker/tasks.py) and runs it via ``connected``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import procrastinate

from server.db import libpq_url

job_app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=["worker.tasks"])

TRANSCODE_TASK = "worker.tasks.transcode_media"
PING_TASK = "worker.tasks.ping"

# The queue keeps every finished job (the periodic tasks alone add about 1,500 a day). Succeeded ones are of
# little interest after a week; failed, cancelled and aborted ones are kept a month for looking into failures
# (a failed transcode's reason is on its media row anyway).
SUCCEEDED_KEPT_H = 7 * 24
UNSUCCESSFUL_KEPT_H = 30 * 24


def connector(database_url: str) -> procrastinate.PsycopgConnector:
    return procrastinate.PsycopgConnector(conninfo=libpq_url(database_url), min_size=1, max_size=4)


def deferring_app(database_url: str) -> procrastinate.App:
    """An App that only defers jobs (by name) — one per Runtime, so runtimes never share a pool."""
    return procrastinate.App(connector=connector(database_url))


@contextmanager
def connected(database_url: str) -> Iterator[procrastinate.App]:
    """The task-carrying app, pointed at ``database_url`` for the duration (one worker per process)."""
    with job_app.replace_connector(connector(database_url)) as app:
        yield app


async def defer(app: procrastinate.App, task_name: str, *, queue: str = "default", lock: str | None = None,
                queueing_lock: str | None = None, **kwargs: Any) -> int:
    return await app.configure_task(name=task_name, queue=queue, lock=lock,
                                    queueing_lock=queueing_lock).defer_async(**kwargs)


async def prune_finished_jobs(app: procrastinate.App) -> None:
    await app.job_manager.delete_old_jobs(nb_hours=SUCCEEDED_KEPT_H)
    await app.job_manager.delete_old_jobs(nb_hours=UNSUCCESSFUL_KEPT_H, include_failed=True, include_cancelled=True,
                                          include_aborted=True)
