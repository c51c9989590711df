from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import m3u8
import pytest

from tests.worker.media.avcheck import check_ladder, video_pts_steps
from tests.worker.media.conftest import MakeMedia, lavfi_av
from worker.media.pipeline import TranscodeResult, transcode_to_dir
from worker.media.run import Progress
from worker.media.types import MediaLimits


def transcode(src: Path, outdir: Path, ffmpeg: str, limits: MediaLimits, **kwargs: Any) -> TranscodeResult:
    return transcode_to_dir(src, outdir, ffmpeg=ffmpeg, limits=limits, **kwargs)


def test_1080p30_with_audio_full_ladder(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits,
                                        tmp_path: Path) -> None:
    src = make_media("1080p30.mp4", *lavfi_av("1920x1080", 30, 4))
    seen: list[Progress] = []
    result = transcode(src, tmp_path, ffmpeg, test_limits, on_progress=seen.append)
    assert [r.name for r in result.renditions] == ["360p", "480p", "720p", "1080p", "a64k"]
    check_ladder(tmp_path, result, (1920, 1080))
    assert abs(result.duration_s - 4.0) < 0.1
    assert seen and seen[-1].done and seen[-1].percent == 100.0
    assert result.poster and (tmp_path / result.poster).stat().st_size > 1000
    assert result.sprite_vtt and "sprite.jpg#xywh=0,0,160,90" in (tmp_path / result.sprite_vtt).read_text()
    with av.open(str(tmp_path / "sprite.jpg")) as sprite:
        frame = next(sprite.decode(video=0))
        assert (frame.width, frame.height) == (160, 90)
    assert not list(tmp_path.rglob("*.tmp"))


def _gray(frame: av.VideoFrame) -> list[int]:
    small = frame.reformat(width=64, height=36, format="gray").planes[0]
    return [value for row in range(36) for value in bytes(small)[row * small.line_size : row * small.line_size + 64]]


def _distance(a: list[int], b: list[int]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def test_progress_from_the_start_and_a_full_sprite_sheet(make_media: MakeMedia, ffmpeg: str,
                                                         test_limits: MediaLimits, tmp_path: Path) -> None:
    src = make_media("minute.mp4", *lavfi_av("640x360", 30, 60, audio=False))
    seen: list[Progress] = []
    result = transcode(src, tmp_path, ffmpeg, test_limits, on_progress=seen.append)
    # A sheet tiled in the graph held back every report until its last tile, at 55 s of 60.
    assert seen[0].percent is not None and seen[0].percent < 75 and not seen[0].done, seen[0]
    assert seen[-1].done
    vtt = (tmp_path / "sprite.vtt").read_text()
    assert vtt.count("sprite.jpg#xywh=") == 12 and "sprite.jpg#xywh=160,90,160,90" in vtt
    with av.open(str(tmp_path / "sprite.jpg")) as sprite:
        sheet = next(sprite.decode(video=0))
        assert (sheet.width, sheet.height) == (1600, 180)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "master.m3u8", "poster.jpg", "sprite.jpg", "sprite.vtt"]
    # The poster is the frame at its time (6 s), not the first frame that began its output.
    assert result.poster
    with av.open(str(tmp_path / result.poster)) as image:
        poster = _gray(next(image.decode(video=0)))
    with av.open(str(src)) as source:
        frames = {n: _gray(f) for n, f in enumerate(source.decode(video=0)) if n in (0, 180)}
    assert _distance(poster, frames[180]) * 3 < _distance(poster, frames[0])


def test_720p_without_audio(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits,
                            tmp_path: Path) -> None:
    src = make_media("720p-silent.mp4", *lavfi_av("1280x720", 30, 3, audio=False))
    result = transcode(src, tmp_path, ffmpeg, test_limits)
    assert [r.name for r in result.renditions] == ["360p", "480p", "720p"]
    check_ladder(tmp_path, result, (1280, 720))
    assert "mp4a" not in (tmp_path / "master.m3u8").read_text()


def test_audio_only(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits, tmp_path: Path) -> None:
    src = make_media("talk.m4a", "-f", "lavfi", "-i", "sine=frequency=300:d=5", "-c:a", "aac")
    result = transcode(src, tmp_path, ffmpeg, test_limits)
    assert [r.name for r in result.renditions] == ["a64k", "a128k"]
    assert result.poster is None and result.sprite is None
    check_ladder(tmp_path, result, None)


def test_portrait_phone_video_with_rotation(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits,
                                            tmp_path: Path) -> None:
    plain = make_media("phone-plain.mp4", *lavfi_av("640x360", 30, 3))
    src = make_media("phone.mp4", "-display_rotation", "90", "-i", str(plain), "-c", "copy")
    result = transcode(src, tmp_path, ffmpeg, test_limits)
    video = [r for r in result.renditions if r.width]
    assert [(r.name, r.width, r.height) for r in video] == [("360p", 360, 640)]
    check_ladder(tmp_path, result, (360, 640))
    with av.open(str(tmp_path / "poster.jpg")) as poster:
        frame = next(poster.decode(video=0))
        assert frame.height > frame.width


def test_odd_853x479(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits, tmp_path: Path) -> None:
    src = make_media("odd.mkv", "-f", "lavfi", "-i", "testsrc2=s=853x479:r=30:d=3", "-f", "lavfi",
                     "-i", "sine=d=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p",
                     "-c:a", "libopus")
    result = transcode(src, tmp_path, ffmpeg, test_limits)
    assert [(r.name, r.width, r.height) for r in result.renditions if r.width] == [("360p", 642, 360)]
    check_ladder(tmp_path, result, (853, 479))


@pytest.mark.parametrize("rate", [25, 30])
def test_frame_rates_keep_two_second_segments(rate: int, make_media: MakeMedia, ffmpeg: str,
                                              test_limits: MediaLimits, tmp_path: Path) -> None:
    src = make_media(f"rate{rate}.mp4", *lavfi_av("320x240", rate, 6))
    result = transcode(src, tmp_path, ffmpeg, test_limits)
    check_ladder(tmp_path, result, (320, 240))
    playlist = m3u8.loads((tmp_path / "240p/index.m3u8").read_text())
    assert [round(float(s.duration), 2) for s in playlist.segments] == [2.0, 2.0, 2.0]
    assert f"FRAME-RATE={rate}.000" in (tmp_path / "master.m3u8").read_text()


def test_variable_frame_rate_becomes_constant(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits,
                                              tmp_path: Path) -> None:
    # 30 fps for 2 s, then every other frame dropped: a VFR stream like a phone's.
    src = make_media("vfr.mkv", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=6", "-f", "lavfi",
                     "-i", "sine=d=6", "-vf", "select='lt(n,60)+not(mod(n,2))'", "-fps_mode", "vfr",
                     "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
    result = transcode(src, tmp_path, ffmpeg, test_limits)
    check_ladder(tmp_path, result, (320, 240))
    steps = video_pts_steps(tmp_path / result.renditions[0].name)
    assert steps == {Fraction(1, 30)}


def test_progressive_contract(make_media: MakeMedia, ffmpeg: str, test_limits: MediaLimits,
                              tmp_path: Path) -> None:
    """Every playlist version lists only complete segments; master appears last."""
    src = make_media("progressive.mp4", *lavfi_av("640x360", 30, 12))
    outdir = tmp_path / "out"
    playlist = outdir / "360p" / "index.m3u8"
    done = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            transcode(src, outdir, ffmpeg, test_limits)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    listed_sizes: dict[str, int] = {}
    versions = 0
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        try:
            text = playlist.read_text()
        except FileNotFoundError:
            done.wait(0.01)
            continue
        master_seen = (outdir / "master.m3u8").exists()
        parsed = m3u8.loads(text)
        if not master_seen:
            assert not parsed.is_endlist or parsed.segments
        versions += 1
        for segment in parsed.segments:
            listed_sizes.setdefault(segment.uri, (playlist.parent / segment.uri).stat().st_size)
        assert (playlist.parent / "init.mp4").stat().st_size > 0
    assert done.wait(60) and not errors
    assert versions > 1 and len(listed_sizes) >= 5
    for uri, size in listed_sizes.items():
        assert (playlist.parent / uri).stat().st_size == size
