from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from worker.media.run import default_ffmpeg
from worker.media.types import MediaLimits

MakeMedia = Callable[..., Path]


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return default_ffmpeg()


@pytest.fixture(scope="session")
def test_limits() -> MediaLimits:
    return MediaLimits(probe_timeout_s=10, transcode_timeout_floor_s=40, transcode_timeout_factor=3)


@pytest.fixture(scope="session")
def make_media(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> MakeMedia:
    """Generate a fixture with ffmpeg once per session: make_media("name.mp4", *args)."""
    root = tmp_path_factory.mktemp("media-src")

    def make(name: str, *args: str) -> Path:
        out = root / name
        if not out.exists():
            subprocess.run(
                [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args, str(out)],
                check=True, timeout=60,
            )
        return out

    return make


def lavfi_av(size: str, rate: int, seconds: float, *, audio: bool = True) -> list[str]:
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:d={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    return args
