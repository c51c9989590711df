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
