"""procrastinate task definitions — thin: each delegates to a module that does the work."""

from __future__ import annotations

import os
import socket

from server.db import transaction
from server.jobs import PING_TASK, job_app
from server.models.system import WorkerPing
from worker.context import runtime


@job_app.task(name=PING_TASK, queue="default")
async def ping(requested_by: str) -> None:
    """Proves a worker executes jobs from the shared database (used by tests and the status page)."""
    async with transaction(runtime().sessions) as db:
        db.add(WorkerPing(requested_by=requested_by[:100], worker=f"{socket.gethostname()}:{os.getpid()}"))
