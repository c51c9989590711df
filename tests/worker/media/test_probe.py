from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.worker.media.conftest import MakeMedia, lavfi_av
from worker.media.probe import judge, probe
from worker.media.sniff import MOV
from worker.media.types import MediaLimits, MediaRejected

LIMITS = MediaLimits()


def video(**overrides: Any) -> dict[str, Any]:
    return {"type": "video", "codec": "h264", "attached_pic": False, "duration": 10.0, "decoded": True,
            "width": 1280, "height": 720, "avg_rate": "30", "guessed_rate": "30", "rotation": 0, **overrides}


def audio(**overrides: Any) -> dict[str, Any]:
    return {"type": "audio", "codec": "aac", "attached_pic": False, "duration": 10.0, "decoded": True,
            "sample_rate": 48000, "channels": 2, **overrides}


def facts(*streams: dict[str, Any], duration: float = 10.0) -> dict[str, Any]:
    return {"format": "mov,mp4", "duration": duration, "streams": list(streams)}


def test_judge_accepts_and_describes() -> None:
    info = judge(facts(video(rotation=-90, avg_rate="27"), audio()), MOV, LIMITS)
    assert info.video is not None and info.audio is not None
    assert info.video.display_size == (720, 1280)
    assert info.video.fps == Fraction(27)
    assert info.demuxer == "mov"


@pytest.mark.parametrize(
    ("streams", "duration", "reason"),
    [
        ([video(width=16000, height=16000)], 10.0, "分辨率过大"),
        ([video(width=8, height=8)], 10.0, "分辨率过小"),
        ([video()] + [audio()] * 16, 10.0, "流过多"),
        ([video(codec="ffv1")], 10.0, "不支持的视频编码"),
        ([audio(codec="dts")], 10.0, "不支持的音频编码"),
        ([video()], 7 * 3600.0, "时长超过上限"),
        ([video()], 0.0, "无法确定媒体时长"),
        ([video(decoded=False)], 10.0, "无法解码"),
        ([{"type": "subtitle", "codec": None, "attached_pic": False, "duration": 0.0}], 10.0, "没有可播放"),
        ([video(codec="mjpeg", attached_pic=True)], 10.0, "没有可播放"),
    ],
)
def test_judge_rejects(streams: list[dict[str, Any]], duration: float, reason: str) -> None:
    with pytest.raises(MediaRejected, match=reason):
        judge(facts(*streams, duration=duration), MOV, LIMITS)


def test_cover_art_is_not_video() -> None:
    info = judge(facts(video(codec="mjpeg", attached_pic=True), audio()), MOV, LIMITS)
    assert info.video is None and info.audio is not None


def test_probe_real_file_with_rotation(make_media: MakeMedia, tmp_path: Path) -> None:
    plain = make_media("probe-plain.mp4", *lavfi_av("320x240", 25, 1))
    rotated = make_media("probe-rot.mp4", "-display_rotation", "90", "-i", str(plain), "-c", "copy")
    info = probe(rotated)
    assert info.video is not None and info.audio is not None
    assert info.video.display_size == (240, 320)
    assert info.video.fps == 25 and abs(info.duration_s - 1.0) < 0.1
    assert info.audio.sample_rate == 48000
