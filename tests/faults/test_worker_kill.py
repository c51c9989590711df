"""kill -9 the worker in the middle of a transcode, five times on the same job: it still finishes exactly once."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil

from server.runtime import Runtime
from server.services.uploads import queue_transcode
from server.settings import Settings
from tests.faults.support import (
    FAST_RECOVERY,
    app_env,
    assert_plays,
    eventually,
    media_row,
    query,
    start,
    stop,
    transcode_jobs,
)
from tests.server.media_support import make_lecture, make_video, stored_media

KILLS = 5


async def test_job_survives_five_worker_kills(settings: Settings, runtime: Runtime, tmp_path: Path) -> None:
    lecture = await make_lecture(runtime, None)
    source = make_video(settings.ffmpeg_binary, tmp_path / "talk.mp4", seconds=60)
    media = await stored_media(runtime, lecture, source)
    await queue_transcode(runtime, media.id)
    env = app_env(settings, tmp_path / "worker-data", **FAST_RECOVERY)

    for kill in range(1, KILLS + 1):
        worker = start(["worker"], env, tmp_path / f"worker{kill}.log")
        try:
            await eventually(lambda k=kill, w=worker: (row := media_row(settings, media.id))["attempt"] == k
                             and row["state"] == "transcoding" and _encoders(w.pid), 40,
                             f"attempt {kill} transcoding",
                             lambda: (media_row(settings, media.id), transcode_jobs(settings, media.id)))
            encoders = _encoders(worker.pid)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            # Its ffmpeg dies with it instead of encoding on for nobody.
            _, alive = psutil.wait_procs(encoders, timeout=10)
            assert alive == []
        finally:
            stop(worker)

    last = start(["worker"], env, tmp_path / "worker-last.log")
    try:
        # The media row turns ready inside the job; procrastinate marks the job finished a moment later.
        await eventually(lambda: media_row(settings, media.id)["state"] in ("ready", "failed")
                         and all(status in ("succeeded", "failed") for status, _ in transcode_jobs(settings, media.id)),
                         50, "final state",
                             lambda: (media_row(settings, media.id), transcode_jobs(settings, media.id)))
    finally:
        stop(last)

    row = media_row(settings, media.id)
    assert row["state"] == "ready", row
    assert row["attempt"] == KILLS + 1 and row["published_prefix"] == f"media/{media.id}/{KILLS + 1}/"
    assert transcode_jobs(settings, media.id) == [("succeeded", KILLS + 1)]  # one job, six runs, finished once
    assert query(settings, "SELECT current_media_id FROM lecture WHERE id = %s", lecture.id) == [(media.id,)]
    assert_plays(runtime.storage, media.id, row["published_prefix"])
    assert not list((tmp_path / "worker-data" / "work").glob(f"{media.id}.*"))  # killed attempts' scratch too


def _encoders(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if "ffmpeg" in p.name()]
