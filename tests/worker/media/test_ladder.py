from __future__ import annotations

from fractions import Fraction

import pytest

from worker.media.ladder import build_ladder, output_fps, scaled_size
from worker.media.types import AudioInfo, MediaInfo, VideoInfo

AUDIO = AudioInfo(codec="aac", sample_rate=48000, channels=6)


def info(w: int = 1920, h: int = 1080, *, fps: Fraction = Fraction(30), rotation: int = 0,
         audio: AudioInfo | None = AUDIO, video: bool = True) -> MediaInfo:
    v = VideoInfo(index=0, codec="h264", width=w, height=h, rotation=rotation, fps=fps)
    return MediaInfo("mov", "mov", 60.0, 2, v if video else None, audio)


def test_full_ladder_for_1080p_lowest_first_then_audio() -> None:
    rungs = build_ladder(info())
    assert [r.name for r in rungs] == ["360p", "480p", "720p", "1080p", "a64k"]
    assert [(r.width, r.height) for r in rungs[:4]] == [(640, 360), (854, 480), (1280, 720), (1920, 1080)]
    assert rungs[-1].audio_kbps == 64 and not rungs[-1].has_video
    assert all(r.audio_channels == 2 for r in rungs)


def test_never_upscales() -> None:
    rungs = build_ladder(info(1280, 720))
    assert max(r.height for r in rungs) == 720
    assert "1080p" not in {r.name for r in rungs}


def test_odd_source_gives_even_sizes() -> None:
    rungs = build_ladder(info(853, 479))
    video = [r for r in rungs if r.has_video]
    assert [(r.width, r.height) for r in video] == [(642, 360)]
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in video)


def test_tiny_source_keeps_its_size() -> None:
    video = [r for r in build_ladder(info(321, 241)) if r.has_video]
    assert [(r.name, r.width, r.height) for r in video] == [("240p", 320, 240)]


def test_rotation_makes_portrait() -> None:
    video = [r for r in build_ladder(info(1920, 1080, rotation=90)) if r.has_video]
    assert video[-1].name == "1080p"
    assert (video[-1].width, video[-1].height) == (1080, 1920)
    assert all(r.height > r.width for r in video)


def test_bitrate_cap_grows_with_pixels_and_fps() -> None:
    at30 = {r.name: r.video_kbps for r in build_ladder(info()) if r.has_video}
    at25 = {r.name: r.video_kbps for r in build_ladder(info(fps=Fraction(25))) if r.has_video}
    assert at30["360p"] < at30["480p"] < at30["720p"] < at30["1080p"]
    assert all(at25[name] < at30[name] for name in at30)


def test_video_only_and_audio_only() -> None:
    assert all(r.has_video and r.audio_kbps == 0 for r in build_ladder(info(audio=None)))
    audio_only = build_ladder(info(video=False))
    assert [r.name for r in audio_only] == ["a64k", "a128k"]
    assert not any(r.has_video for r in audio_only)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (Fraction(30), Fraction(30)),
        (Fraction(25), Fraction(25)),
        (Fraction(30000, 1001), Fraction(30000, 1001)),
        (Fraction(60), Fraction(30)),
        (Fraction(50), Fraction(25)),
        (Fraction(1000), Fraction(30)),
        (Fraction(2997, 100), Fraction(30)),
        (Fraction(0), Fraction(25)),
        (Fraction(1, 3), Fraction(1)),
    ],
)
def test_output_fps_is_constant_and_capped(source: Fraction, expected: Fraction) -> None:
    assert output_fps(source) == expected


def test_keyint_is_two_seconds_and_codecs() -> None:
    rungs = {r.name: r for r in build_ladder(info(fps=Fraction(25)))}
    assert rungs["720p"].keyint == 50
    assert rungs["1080p"].codecs == "avc1.640028,mp4a.40.2"
    assert rungs["360p"].codecs == "avc1.64001e,mp4a.40.2"
    assert rungs["a64k"].codecs == "mp4a.40.2"


def test_scaled_size_portrait() -> None:
    assert scaled_size(720, 1280, 360) == (360, 640)
