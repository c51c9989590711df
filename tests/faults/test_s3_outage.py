"""SeaweedFS stops for ~20 s in the middle of a transcode: the job retries and finishes, and the app's
/readyz says 503 during the outage and 200 once S3 is back (neither process restarted)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import anyio

from server import embedded
from server.runtime import Runtime
from server.services.uploads import queue_transcode
from server.settings import Settings
from tests.faults.support import (
    FAST_RECOVERY,
    app_env,
    assert_plays,
    eventually,
    media_row,
    ready_url,
    start,
    stop,
    transcode_jobs,
)
from tests.server.media_support import make_lecture, make_video, stored_media

OUTAGE_S = 20
# SeaweedFS restarted on its old data serves S3 only ~20 s later (its filer waits), so S3 is away ~40 s.
# Retry waits growing from 1.5 s put the sixth run ~50 s after the first failure, when S3 is back, and
# keep the seventh and last in reserve, instead of the default ten-minute backoff.
RETRIES = {**FAST_RECOVERY, "JIANGTANG_TRANSCODE_RETRY_S": "1.5"}


async def test_transcode_and_readiness_survive_s3_outage(settings: Settings, runtime: Runtime,
                                                         tmp_path: Path) -> None:
    s3 = embedded.start_seaweedfs(tmp_path / "weed")
    own = settings.model_copy(update={"s3_endpoint_url": s3.endpoint_url, "s3_access_key": s3.access_key,
                                      "s3_secret_key": s3.secret_key, "s3_bucket": "outage"})
    app_runtime = Runtime.build(own)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        await app_runtime.open()
        await anyio.to_thread.run_sync(app_runtime.storage.ensure_bucket)
        lecture = await make_lecture(runtime, None)
        source = make_video(settings.ffmpeg_binary, tmp_path / "talk.mp4", seconds=20, size="320x180")
        media = await stored_media(app_runtime, lecture, source)

        port = embedded.free_port()
        base = f"http://127.0.0.1:{port}"
        server = start(["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)],
                       app_env(own, tmp_path / "server"), tmp_path / "server.log")
        procs.append(server)
        worker = start(["worker"], app_env(own, tmp_path / "worker", **RETRIES), tmp_path / "worker.log")
        procs.append(worker)
        await eventually(lambda: ready_url(base) == 200, 40, "server ready")
        await queue_transcode(app_runtime, media.id)
        await eventually(lambda: media_row(settings, media.id)["state"] == "transcoding", 40, "transcoding",
                         lambda: media_row(settings, media.id))

        down_at = time.monotonic()
        await anyio.to_thread.run_sync(embedded.stop_seaweedfs, s3)  # answers 500s while it shuts down
        outage_ready = await eventually(lambda: ready_url(base) == 503 and 503, 10, "/readyz reports the outage")
        await anyio.sleep(down_at + OUTAGE_S - time.monotonic())  # the outage itself, whoever polls S3 meanwhile
        assert media_row(settings, media.id)["state"] != "ready"
        s3 = await anyio.to_thread.run_sync(lambda: embedded.start_seaweedfs(tmp_path / "weed", ports=s3.ports))

        await eventually(lambda: ready_url(base) == 200, 40, "/readyz recovers")
        await eventually(lambda: media_row(settings, media.id)["state"] in ("ready", "failed"), 60, "final state",
                         lambda: (media_row(settings, media.id), transcode_jobs(settings, media.id)))
        # The media row is marked ready inside the job; procrastinate records its success just after.
        await eventually(lambda: transcode_jobs(settings, media.id)[0][0] not in ("todo", "doing"), 10, "job done")
        row = media_row(settings, media.id)
        assert outage_ready == 503
        assert row["state"] == "ready", row
        ((status, attempts),) = transcode_jobs(settings, media.id)
        assert status == "succeeded" and attempts >= 2, (status, attempts)  # it failed during the outage
        assert_plays(app_runtime.storage, media.id, row["published_prefix"])
    finally:
        with anyio.CancelScope(shield=True):
            for proc in procs:
                stop(proc)
            await app_runtime.close()
            embedded.stop_seaweedfs(s3)

