"""The procrastinate app shared by the server (which defers jobs by task name) and the worker.

The server never imports worker code: it defers by name; tasks are registered by worker.tasks.
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


@contextmanager
def connected(database_url: str) -> Iterator[procrastinate.App]:
    with job_app.replace_connector(procrastinate.PsycopgConnector(conninfo=libpq_url(database_url),
                                                                  min_size=1, max_size=4)) as app:
        yield app


async def defer(task_name: str, *, queue: str = "default", lock: str | None = None,
                queueing_lock: str | None = None, **kwargs: Any) -> int:
    return await job_app.configure_task(name=task_name, queue=queue, lock=lock,
                                        queueing_lock=queueing_lock).defer_async(**kwargs)
