"""The only place that spawns ffmpeg (and the isolated probe child).

Every child gets its own process group so that a timeout or a cancel kills it
and anything it started, and the worker itself survives whatever the input does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO

STDERR_TAIL_LINES = 20
_POLL_S = 0.05
_PR_SET_PDEATHSIG = 1
# Resolved now, not in the forked child, where loading a library could deadlock on another thread's lock.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_spawner() -> None:
    # A worker killed with -9 must not leave ffmpeg encoding for hours. The signal follows the thread that
    # spawned the child, which is the one blocked in run() until the child exits.
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def default_ffmpeg() -> str:
    """The ffmpeg binary: `JIANGTANG_FFMPEG_PATH`, else the one bundled with imageio-ffmpeg."""
    configured = os.environ.get("JIANGTANG_FFMPEG_PATH")
    if configured:
        return configured
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True, slots=True)
class Progress:
    percent: float | None
    out_time_s: float
    elapsed_s: float
    eta_s: float | None
    done: bool


class ProcessFailed(Exception):
    def __init__(self, message: str, *, returncode: int | None, stderr_tail: str) -> None:
        super().__init__(f"{message}: {stderr_tail}" if stderr_tail else message)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ProcessTimeout(ProcessFailed):
    pass


class ProcessCancelled(ProcessFailed):
    pass


@dataclass(frozen=True, slots=True)
class Finished:
    stdout: bytes
    stderr_tail: str
    elapsed_s: float


def progress_from(fields: Mapping[str, str], *, duration_s: float, elapsed_s: float) -> Progress:
    """Pure: one `-progress` block (key=value lines up to `progress=`) -> Progress."""
    raw = fields.get("out_time_us") or fields.get("out_time_ms") or "0"
    try:
        out_time_s = max(0.0, int(raw) / 1_000_000)
    except ValueError:
        out_time_s = 0.0
    done = fields.get("progress") == "end"
    percent: float | None = None
    eta_s: float | None = None
    if duration_s > 0:
        percent = 100.0 if done else min(99.9, 100.0 * out_time_s / duration_s)
        if done:
            eta_s = 0.0
        elif out_time_s > 0 and elapsed_s > 0:
            eta_s = (duration_s - min(out_time_s, duration_s)) * elapsed_s / out_time_s
    return Progress(percent, out_time_s, elapsed_s, eta_s, done)


def parse_progress_lines(lines: Iterable[str]) -> Iterable[dict[str, str]]:
    """Group `-progress` output into blocks; each block ends with a `progress=` line."""
    block: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        block[key] = value
        if key == "progress":
            yield block
            block = {}


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run(
    argv: list[str],
    *,
    timeout_s: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    duration_s: float = 0.0,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Finished:
    """Run a child to completion within `timeout_s` wall-clock seconds.

    With `on_progress`, stdout is read as ffmpeg `-progress pipe:1` output; without
    it, stdout is collected and returned. Raises ProcessFailed (non-zero exit),
    ProcessTimeout or ProcessCancelled, after killing the child's process group.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        preexec_fn=_die_with_spawner,
    )
    assert proc.stdout is not None and proc.stderr is not None
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    collected: list[bytes] = []

    def read_stderr(stream: IO[bytes]) -> None:
        for raw in stream:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    def read_stdout(stream: IO[bytes]) -> None:
        if on_progress is None:
            collected.append(stream.read())
            return
        lines = (raw.decode("utf-8", "replace") for raw in stream)
        for block in parse_progress_lines(lines):
            elapsed = time.monotonic() - started
            # A failing callback must not stop draining the pipe, or ffmpeg would block.
            with contextlib.suppress(Exception):
                on_progress(progress_from(block, duration_s=duration_s, elapsed_s=elapsed))

    readers = [
        threading.Thread(target=read_stderr, args=(proc.stderr,), daemon=True),
        threading.Thread(target=read_stdout, args=(proc.stdout,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = started + timeout_s
    try:
        while proc.poll() is None:
            if cancel is not None and cancel.is_set():
                _kill_group(proc)
                raise ProcessCancelled("cancelled", returncode=None, stderr_tail="")
            if time.monotonic() >= deadline:
                _kill_group(proc)
                raise ProcessTimeout(
                    f"timed out after {timeout_s:.0f}s", returncode=None, stderr_tail=""
                )
            try:
                proc.wait(timeout=_POLL_S)
            except subprocess.TimeoutExpired:
                continue
    except BaseException:
        if proc.poll() is None:
            _kill_group(proc)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    stderr_tail = "\n".join(tail)
    if proc.returncode != 0:
        raise ProcessFailed(
            f"exit status {proc.returncode}", returncode=proc.returncode, stderr_tail=stderr_tail
        )
    return Finished(b"".join(collected), stderr_tail, time.monotonic() - started)
