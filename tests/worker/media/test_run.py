from __future__ import annotations

import shlex
import threading
import time
from pathlib import Path

import pytest

from worker.media import run


def test_parse_progress_blocks_and_eta() -> None:
    lines = ["frame=10", "out_time_us=5000000", "progress=continue", "out_time_us=10000000", "progress=end"]
    blocks = list(run.parse_progress_lines(lines))
    assert [b["progress"] for b in blocks] == ["continue", "end"]
    first = run.progress_from(blocks[0], duration_s=20.0, elapsed_s=2.0)
    assert first.percent == pytest.approx(25.0)
    assert first.eta_s == pytest.approx(6.0)
    last = run.progress_from(blocks[1], duration_s=20.0, elapsed_s=4.0)
    assert last.done and last.percent == 100.0 and last.eta_s == 0.0
    unknown = run.progress_from({"out_time_us": "N/A"}, duration_s=0.0, elapsed_s=1.0)
    assert unknown.percent is None and unknown.out_time_s == 0.0


def _endless(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-hide_banner", "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=10",
            "-progress", "pipe:1", "-stats_period", "0.1", "-f", "null", "-"]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # an unreaped zombie is dead too


def test_timeout_kills_the_whole_process_group(ffmpeg: str, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"{shlex.join(_endless(ffmpeg))} >/dev/null 2>&1 & echo $! > {pidfile}; wait"
    started = time.monotonic()
    with pytest.raises(run.ProcessTimeout):
        run.run(["sh", "-c", script], timeout_s=1.0)
    assert time.monotonic() - started < 3
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_cancel_stops_ffmpeg_after_progress(ffmpeg: str) -> None:
    cancel = threading.Event()
    seen: list[run.Progress] = []

    def on_progress(progress: run.Progress) -> None:
        seen.append(progress)
        cancel.set()

    with pytest.raises(run.ProcessCancelled):
        run.run(_endless(ffmpeg), timeout_s=20, duration_s=100, on_progress=on_progress, cancel=cancel)
    assert seen


def test_failure_carries_stderr_tail(ffmpeg: str) -> None:
    with pytest.raises(run.ProcessFailed) as info:
        run.run([ffmpeg, "-hide_banner", "-nostdin", "-i", "/nonexistent/x.mp4"], timeout_s=10)
    assert info.value.returncode != 0
    assert "nonexistent" in info.value.stderr_tail
