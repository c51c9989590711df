"""Pure: what to produce from a source. No I/O.

Rungs are named by the short side ("720p" is 1280×720 landscape or 720×1280
portrait) and never exceed the source. Video bitrate caps come from a
bits-per-pixel budget; the encoder runs CRF under that cap, so static lecture
slides cost far less than the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from worker.media.types import MediaInfo

STANDARD_HEIGHTS = (1080, 720, 480, 360)
# Bits per pixel per frame for the maxrate cap; smaller pictures need more per pixel.
BPP = {1080: 0.07, 720: 0.08, 480: 0.09, 360: 0.10}
SMALL_BPP = 0.11
MAX_FPS = Fraction(30)
VIDEO_AUDIO_KBPS = 96
AUDIO_ONLY_KBPS = 64
AUDIO_SOURCE_HQ_KBPS = 128
SEGMENT_S = 2
# H.264 level by the largest rung it must cover (MB count and rate at ≤ 30 fps).
_LEVELS = ((414_720, "3.0", "1e"), (921_600, "3.1", "1f"), (2_228_224, "4.0", "28"), (9_437_184, "5.1", "33"))


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    width: int  # 0 for audio-only rungs
    height: int
    fps: Fraction
    video_kbps: int  # maxrate cap; 0 for audio-only
    audio_kbps: int  # 0 when the source has no audio
    audio_channels: int

    @property
    def has_video(self) -> bool:
        return self.width > 0

    @property
    def level(self) -> str:
        return _level(self.width * self.height)[0]

    @property
    def codecs(self) -> str:
        """RFC 6381 codec string for the master playlist."""
        parts = [f"avc1.6400{_level(self.width * self.height)[1]}"] if self.has_video else []
        if self.audio_kbps:
            parts.append("mp4a.40.2")
        return ",".join(parts)

    @property
    def keyint(self) -> int:
        return max(1, round(self.fps * SEGMENT_S))


def _level(pixels: int) -> tuple[str, str]:
    for max_pixels, level, hexlevel in _LEVELS:
        if pixels <= max_pixels:
            return level, hexlevel
    return _LEVELS[-1][1], _LEVELS[-1][2]


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def output_fps(source: Fraction) -> Fraction:
    """Constant output rate: keep the source's, halve 50/60 to 25/30, cap at 30."""
    if source <= 0:
        return Fraction(25)
    if source > MAX_FPS:
        half = source / 2
        return half if half <= MAX_FPS else MAX_FPS
    if source.denominator in (1, 1001):
        return source
    return max(Fraction(1), Fraction(round(source)))


def _nearest_even(value: float, ceiling: int) -> int:
    return min(max(2, round(value / 2) * 2), _even(ceiling))


def scaled_size(display_w: int, display_h: int, short_side: int) -> tuple[int, int]:
    """Even frame size with `short_side` on the shorter edge, keeping the aspect ratio."""
    if display_w >= display_h:
        return _nearest_even(display_w * short_side / display_h, display_w), _even(short_side)
    return _even(short_side), _nearest_even(display_h * short_side / display_w, display_h)


def video_kbps(width: int, height: int, fps: Fraction, short_side: int) -> int:
    bpp = BPP.get(short_side, SMALL_BPP)
    return max(100, round(width * height * float(fps) * bpp / 1000))


def build_ladder(info: MediaInfo) -> list[Rendition]:
    """Video renditions lowest first, then the audio-only rung (first = first playable)."""
    channels = min(info.audio.channels, 2) if info.audio else 0
    audio_rung_kbps = AUDIO_ONLY_KBPS if info.audio else 0
    if info.video is None:
        return [
            Rendition("a64k", 0, 0, Fraction(0), 0, AUDIO_ONLY_KBPS, channels),
            Rendition("a128k", 0, 0, Fraction(0), 0, AUDIO_SOURCE_HQ_KBPS, channels),
        ]
    display_w, display_h = info.video.display_size
    source_short = min(display_w, display_h)
    fps = output_fps(info.video.fps)
    shorts = [h for h in STANDARD_HEIGHTS if h <= source_short] or [_even(source_short)]
    video_audio = VIDEO_AUDIO_KBPS if info.audio else 0
    rungs: list[Rendition] = []
    for short in sorted(shorts):
        width, height = scaled_size(display_w, display_h, short)
        rungs.append(
            Rendition(
                f"{short}p", width, height, fps,
                video_kbps(width, height, fps, short), video_audio, channels,
            )
        )
    if audio_rung_kbps:
        rungs.append(Rendition("a64k", 0, 0, Fraction(0), 0, audio_rung_kbps, channels))
    return rungs
