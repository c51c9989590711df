"""procrastinate task definitions — thin: each delegates to a module that does the work."""

from __future__ import annotations

import os
import socket

from procrastinate import BaseRetryStrategy, JobContext, RetryDecision
from procrastinate.jobs import Job

from server.db import transaction
from server.jobs import PING_TASK, TRANSCODE_TASK, job_app, prune_finished_jobs
from server.models.system import WorkerPing
from server.services import purge, uploads
from worker import recovery, transcode
from worker.context import runtime
from worker.transcode import MAX_RETRIES

RECOVER_STALLED_TASK = "worker.tasks.recover_stalled_jobs"
ABORT_STALE_UPLOADS_TASK = "worker.tasks.abort_stale_uploads"
PURGE_MEDIA_TASK = "worker.tasks.purge_media"
PURGE_STAGED_IMPORTS_TASK = "worker.tasks.purge_staged_imports"
PURGE_IMAGES_TASK = "worker.tasks.purge_images"
PRUNE_JOBS_TASK = "worker.tasks.prune_jobs"


@job_app.task(name=PING_TASK, queue="default")
async def ping(requested_by: str) -> None:
    """Proves a worker executes jobs from the shared database (used by tests and the status page)."""
    async with transaction(runtime().sessions) as db:
        db.add(WorkerPing(requested_by=requested_by[:100], worker=f"{socket.gethostname()}:{os.getpid()}"))


# --- media ------------------------------------------------------------------------------------------

class TranscodeRetry(BaseRetryStrategy):
    """Doubling waits from settings.transcode_retry_s, so that with the defaults the retries of one job span
    about ten minutes (an S3 or disk outage of that length loses no upload)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if job.attempts >= MAX_RETRIES:
            return None
        return RetryDecision(retry_in={"seconds": retry_wait_s(runtime().settings.transcode_retry_s, job.attempts)})


def retry_wait_s(base_s: float, attempts: int) -> float:
    return base_s * 2 ** min(attempts, 6)


@job_app.task(name=TRANSCODE_TASK, queue="default", pass_context=True, retry=TranscodeRetry())
async def transcode_media(context: JobContext, media_id: str) -> None:
    await transcode.transcode_media(runtime(), media_id, job_attempts=context.job.attempts,
                                    should_abort=context.should_abort)


@job_app.periodic(cron="* * * * *")
@job_app.task(name=RECOVER_STALLED_TASK, queue="default", lock=recovery.LOCK, queueing_lock=recovery.LOCK,
              pass_context=True)
async def recover_stalled_jobs(context: JobContext, timestamp: int) -> None:
    await recovery.retry_stalled_jobs(context.app.job_manager,
                                      seconds_since_heartbeat=recovery.stalled_after_s(runtime().settings))


@job_app.periodic(cron="17 * * * *")
@job_app.task(name=ABORT_STALE_UPLOADS_TASK, queue="default", queueing_lock="abort-stale-uploads")
async def abort_stale_uploads(timestamp: int) -> None:
    await uploads.abort_stale_uploads(runtime())


@job_app.periodic(cron="37 * * * *")
@job_app.task(name=PURGE_MEDIA_TASK, queue="default", lock="purge-media", queueing_lock="purge-media")
async def purge_media(timestamp: int) -> None:
    await purge.purge_media(runtime())


@job_app.periodic(cron="47 * * * *")
@job_app.task(name=PURGE_STAGED_IMPORTS_TASK, queue="default", queueing_lock="purge-staged-imports")
async def purge_staged_imports(timestamp: int) -> None:
    await purge.purge_staged_imports(runtime())


@job_app.periodic(cron="53 3 * * *")
@job_app.task(name=PURGE_IMAGES_TASK, queue="default", lock="purge-images", queueing_lock="purge-images")
async def purge_images(timestamp: int) -> None:
    await purge.purge_images(runtime())


@job_app.periodic(cron="27 3 * * *")
@job_app.task(name=PRUNE_JOBS_TASK, queue="default", queueing_lock="prune-jobs", pass_context=True)
async def prune_jobs(context: JobContext, timestamp: int) -> None:
    await prune_finished_jobs(context.app)
