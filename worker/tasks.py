"""procrastinate task definitions — thin: each delegates to a module that does the work."""

from __future__ import annotations

import os
import socket

from procrastinate import JobContext, RetryStrategy

from server.db import transaction
from server.jobs import PING_TASK, TRANSCODE_TASK, job_app
from server.models.system import WorkerPing
from server.services import uploads
from worker import recovery, transcode
from worker.context import runtime
from worker.transcode import MAX_RETRIES

RECOVER_STALLED_TASK = "worker.tasks.recover_stalled_jobs"
ABORT_STALE_UPLOADS_TASK = "worker.tasks.abort_stale_uploads"


@job_app.task(name=PING_TASK, queue="default")
async def ping(requested_by: str) -> None:
    """Proves a worker executes jobs from the shared database (used by tests and the status page)."""
    async with transaction(runtime().sessions) as db:
        db.add(WorkerPing(requested_by=requested_by[:100], worker=f"{socket.gethostname()}:{os.getpid()}"))


# --- media ------------------------------------------------------------------------------------------

TRANSCODE_RETRY = RetryStrategy(max_attempts=MAX_RETRIES, wait=10, exponential_wait=5)


@job_app.task(name=TRANSCODE_TASK, queue="default", pass_context=True, retry=TRANSCODE_RETRY)
async def transcode_media(context: JobContext, media_id: str) -> None:
    await transcode.transcode_media(runtime(), media_id, job_attempts=context.job.attempts,
                                    should_abort=context.should_abort)


@job_app.periodic(cron="* * * * *")
@job_app.task(name=RECOVER_STALLED_TASK, queue="default", queueing_lock="recover-stalled", pass_context=True)
async def recover_stalled_jobs(context: JobContext, timestamp: int) -> None:
    await recovery.retry_stalled_jobs(context.app.job_manager)


@job_app.periodic(cron="17 * * * *")
@job_app.task(name=ABORT_STALE_UPLOADS_TASK, queue="default", queueing_lock="abort-stale-uploads")
async def abort_stale_uploads(timestamp: int) -> None:
    await uploads.abort_stale_uploads(runtime())
