"""Stalled-job recovery: a transcode whose worker stopped sending heartbeats (kill -9, machine lost) runs again.

Workers beat every 10 s (worker.main); a job still marked doing whose worker has been silent longer than
STALLED_AFTER_S is put back in the queue. The retried run claims a new attempt on the media row, so if
the old worker was only slow, not dead, the old attempt loses its compare-and-set and stops.
"""

from __future__ import annotations

import structlog
from procrastinate.manager import JobManager

from server.jobs import TRANSCODE_TASK

log = structlog.get_logger()

STALLED_AFTER_S = 60


async def retry_stalled_jobs(manager: JobManager, *, seconds_since_heartbeat: float = STALLED_AFTER_S) -> int:
    stalled = list(await manager.get_stalled_jobs(task_name=TRANSCODE_TASK,
                                                  seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        log.warning("stalled_job_retried", job_id=job.id, attempts=job.attempts)
        await manager.retry_job(job)
    return len(stalled)
