"""Plain data shared by the media modules: limits, probe facts, rejection."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

VIDEO_CODECS = frozenset({
    "h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "h263",
    "flv1", "msmpeg4v2", "msmpeg4v3", "wmv1", "wmv2", "wmv3", "vc1", "mjpeg", "prores",
})
AUDIO_CODECS = frozenset({
    "aac", "mp3", "mp2", "ac3", "eac3", "opus", "vorbis", "flac", "alac", "wmav1", "wmav2",
    "wmapro", "amr_nb", "amr_wb", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be",
    "pcm_s32le", "pcm_f32le", "pcm_u8", "pcm_alaw", "pcm_mulaw",
})


class MediaRejected(Exception):
    """The upload is not acceptable; `reason_zh` is shown to the lecturer as is."""

    def __init__(self, reason_zh: str) -> None:
        super().__init__(reason_zh)
        self.reason_zh = reason_zh


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_duration_s: float = 6 * 3600
    max_width: int = 4096
    max_height: int = 4096
    max_streams: int = 16
    max_file_bytes: int = 8 * 1024**3
    video_codecs: frozenset[str] = field(default=VIDEO_CODECS)
    audio_codecs: frozenset[str] = field(default=AUDIO_CODECS)
    probe_timeout_s: float = 20.0
    # The transcode may take at most this many seconds per source second, plus a floor,
    # so a hostile file cannot hold a worker for longer than a slow honest one would.
    transcode_timeout_factor: float = 3.0
    transcode_timeout_floor_s: float = 120.0

    @property
    def max_pixels(self) -> int:
        return self.max_width * self.max_height

    def transcode_timeout_s(self, duration_s: float) -> float:
        return self.transcode_timeout_floor_s + self.transcode_timeout_factor * duration_s


@dataclass(frozen=True, slots=True)
class VideoInfo:
    index: int  # among the file's video streams, for `0:v:<index>`
    codec: str
    width: int  # as decoded, before rotation
    height: int
    rotation: int  # degrees, a multiple of 90; ffmpeg's autorotate applies it
    fps: Fraction  # average rate; the fps filter makes the output constant either way

    @property
    def display_size(self) -> tuple[int, int]:
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True, slots=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class MediaInfo:
    demuxer: str
    format_whitelist: str
    duration_s: float
    stream_count: int
    video: VideoInfo | None
    audio: AudioInfo | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.video is not None:
            data["video"]["fps"] = float(self.video.fps)
            data["video"]["display_width"], data["video"]["display_height"] = self.video.display_size
        return data
