"""The worker's working directory is full: the job fails cleanly with a Chinese reason and is retried later."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.runtime import Runtime
from server.services.uploads import queue_transcode
from server.settings import Settings
from tests.faults.support import assert_plays, eventually, media_row, transcode_jobs
from tests.server.media_support import make_lecture, make_video, stored_media
from worker.main import run_worker
from worker.transcode import DISK_FULL


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "work"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


async def test_full_work_dir_fails_cleanly_and_is_retried(settings: Settings, runtime: Runtime, tmp_path: Path,
                                                          small_disk: Path) -> None:
    lecture = await make_lecture(runtime, None)
    media = await stored_media(runtime, lecture, make_video(settings.ffmpeg_binary, tmp_path / "t.mp4", seconds=20))
    await queue_transcode(runtime, media.id)
    worker_settings = settings.model_copy(update={"work_dir": small_disk, "transcode_retry_s": 1.0})

    await run_worker(worker_settings, wait=False)
    row = media_row(settings, media.id)
    assert (row["state"], row["error"]) == ("queued", DISK_FULL)
    assert transcode_jobs(settings, media.id) == [("todo", 1)]  # scheduled again, not lost
    assert _empty(small_disk)  # the failed attempt cleaned up after itself

    _grow(small_disk)  # an operator frees space
    started = time.monotonic()
    await eventually(lambda: time.monotonic() - started > 2.5, 5, "retry delay")  # retry_wait_s(1.0, 1) = 2 s
    await run_worker(worker_settings, wait=False)
    row = media_row(settings, media.id)
    assert row["state"] == "ready" and row["error"] is None and row["attempt"] == 2, row
    assert transcode_jobs(settings, media.id) == [("succeeded", 2)]
    assert_plays(runtime.storage, media.id, row["published_prefix"])


def _empty(path: Path) -> bool:
    return not any(path.iterdir())


def _grow(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=200m", str(mount)], check=True)
