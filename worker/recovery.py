"""Stalled-job recovery: a transcode whose worker stopped sending heartbeats (kill -9, machine lost) runs again.

Workers beat every settings.worker_heartbeat_s (worker.main); a job still marked doing whose worker has been
silent longer than stalled_after_s() is put back in the queue. The retried run claims a new attempt on the
media row, so if the old worker was only slow, not dead, the old attempt loses its compare-and-set and stops.

Recovery runs as a job with the procrastinate lock LOCK, so two recoveries never run at once: a job listed as
stalled by one could otherwise already have been retried and taken by a live worker when the other retries it.
"""

from __future__ import annotations

import structlog
from procrastinate.manager import JobManager

from server.jobs import TRANSCODE_TASK
from server.settings import Settings

log = structlog.get_logger()

LOCK = "recover-stalled"
MIN_HEARTBEATS_MISSED = 3


def stalled_after_s(settings: Settings) -> float:
    """Pure: silence after which a worker counts as dead; never less than a few missed heartbeats."""
    return max(settings.worker_stalled_s, MIN_HEARTBEATS_MISSED * settings.worker_heartbeat_s)


async def retry_stalled_jobs(manager: JobManager, *, seconds_since_heartbeat: float = 60) -> int:
    stalled = list(await manager.get_stalled_jobs(task_name=TRANSCODE_TASK,
                                                  seconds_since_heartbeat=seconds_since_heartbeat))
    for job in stalled:
        log.warning("stalled_job_retried", job_id=job.id, attempts=job.attempts)
        await manager.retry_job(job)
    return len(stalled)
