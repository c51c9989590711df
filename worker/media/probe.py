"""Safe probing: sniff the content, then let PyAV look inside in an isolated child.

The child (`python -m worker.media.probe`) opens the file with the demuxer chosen by
`sniff`, `protocol_whitelist=file` and a `format_whitelist`, decodes one frame per
chosen stream and prints raw facts as JSON. A crash, hang or memory blow-up there
cannot take the worker down; the parent kills it at `probe_timeout_s` and judges
the facts against MediaLimits with the pure `judge`.
"""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from worker.media import run
from worker.media.sniff import Container, sniff_file
from worker.media.types import AudioInfo, MediaInfo, MediaLimits, MediaRejected, VideoInfo

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_MAX_DECODE_PACKETS = 2000
MIN_SIDE = 16

UNKNOWN_FORMAT = "无法识别的文件格式，请上传常见的视频或音频文件（如 MP4、MOV、MKV）"
CORRUPT = "文件已损坏或无法解析，请检查后重新上传"


def probe(path: Path, *, limits: MediaLimits = MediaLimits()) -> MediaInfo:
    """Accept `path` as a MediaInfo or raise MediaRejected with a Chinese reason."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("文件为空")
    if size > limits.max_file_bytes:
        raise MediaRejected(f"文件过大（超过 {limits.max_file_bytes // 1024**3} GB）")
    container = sniff_file(path)
    if container is None:
        raise MediaRejected(UNKNOWN_FORMAT)
    argv = [
        sys.executable, "-m", "worker.media.probe",
        str(path), container.demuxer, container.whitelist, str(limits.max_pixels),
    ]
    python_path = os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path}
    try:
        finished = run.run(argv, timeout_s=limits.probe_timeout_s, env=env)
    except run.ProcessTimeout as exc:
        raise MediaRejected("文件解析超时，文件可能已损坏") from exc
    except run.ProcessFailed as exc:
        raise MediaRejected(CORRUPT) from exc
    return judge(json.loads(finished.stdout), container, limits)


def judge(facts: dict[str, Any], container: Container, limits: MediaLimits) -> MediaInfo:
    """Pure: the child's facts -> MediaInfo, or MediaRejected."""
    if facts.get("error"):
        raise MediaRejected(CORRUPT)
    streams: list[dict[str, Any]] = facts["streams"]
    if len(streams) > limits.max_streams:
        raise MediaRejected(f"文件包含的流过多（{len(streams)} 个，上限 {limits.max_streams} 个）")
    videos = [s for s in streams if s["type"] == "video" and not s.get("attached_pic")]
    audios = [s for s in streams if s["type"] == "audio"]
    for s in videos:
        if min(s["width"], s["height"]) < MIN_SIDE:
            raise MediaRejected(f"视频分辨率过小（{s['width']}×{s['height']}）")
        if s["width"] > limits.max_width or s["height"] > limits.max_height:
            raise MediaRejected(
                f"视频分辨率过大（{s['width']}×{s['height']}，上限 {limits.max_width}×{limits.max_height}）"
            )
    if not videos and not audios:
        raise MediaRejected("文件中没有可播放的视频或音频")
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    if video is not None and video["codec"] not in limits.video_codecs:
        raise MediaRejected(f"不支持的视频编码：{video['codec']}")
    if audio is not None and audio["codec"] not in limits.audio_codecs:
        raise MediaRejected(f"不支持的音频编码：{audio['codec']}")
    duration = float(facts.get("duration") or 0.0)
    if duration <= 0:
        raise MediaRejected("无法确定媒体时长，文件可能已损坏")
    if duration > limits.max_duration_s:
        raise MediaRejected(f"时长超过上限（{limits.max_duration_s / 3600:g} 小时）")
    if video is not None and not video.get("decoded"):
        raise MediaRejected("无法解码视频画面，文件可能已损坏")
    if audio is not None and not audio.get("decoded") and video is None:
        raise MediaRejected("无法解码音频，文件可能已损坏")
    return MediaInfo(
        demuxer=container.demuxer,
        format_whitelist=container.whitelist,
        duration_s=duration,
        stream_count=len(streams),
        video=_video_info(video, videos.index(video)) if video is not None else None,
        audio=_audio_info(audio) if audio is not None and audio.get("decoded") else None,
    )


def _video_info(s: dict[str, Any], index: int) -> VideoInfo:
    avg = Fraction(s["avg_rate"]) if s.get("avg_rate") else Fraction(0)
    guessed = Fraction(s["guessed_rate"]) if s.get("guessed_rate") else Fraction(0)
    fps = avg or guessed or Fraction(25)
    return VideoInfo(
        index=index,
        codec=s["codec"],
        width=s["width"],
        height=s["height"],
        rotation=int(s.get("rotation") or 0) % 360 // 90 * 90,
        fps=fps,
    )


def _audio_info(s: dict[str, Any]) -> AudioInfo:
    return AudioInfo(codec=s["codec"], sample_rate=int(s["sample_rate"]), channels=int(s["channels"]))


def collect_facts(path: str, demuxer: str, whitelist: str, max_pixels: int) -> dict[str, Any]:
    """Child side: open with PyAV under whitelists and report what is inside."""
    import av

    options = {
        "protocol_whitelist": "file",
        "format_whitelist": whitelist,
        "probesize": "50000000",
        "analyzeduration": "20000000",
        "max_pixels": str(max_pixels),
    }
    try:
        container = av.open(path, format=demuxer, options=options)
    except (av.FFmpegError, ValueError) as exc:
        return {"error": str(exc)}
    with container:
        streams: list[dict[str, Any]] = [_stream_facts(s) for s in container.streams]
        video = next((s for s in container.streams.video if not streams[s.index]["attached_pic"]), None)
        audio = next(iter(container.streams.audio), None)
        chosen = [s for s in (video, audio) if s is not None]
        end = _decode_first_frames(container, chosen, streams)
        duration = container.duration / 1_000_000 if container.duration else 0.0
        if not duration:
            duration = max((st["duration"] for st in streams if st["duration"]), default=0.0)
        if not duration and chosen:
            duration = _scan_end(container, chosen, end)
    return {"format": container.format.name, "duration": duration, "streams": streams}


def _stream_facts(s: Any) -> dict[str, Any]:
    import av

    facts: dict[str, Any] = {
        "type": s.type,
        "codec": s.codec_context.name if s.type in ("video", "audio") else None,
        "attached_pic": bool(s.disposition & av.stream.Disposition.attached_pic),
        "duration": float(s.duration * s.time_base) if s.duration and s.time_base else 0.0,
        "decoded": False,
    }
    if s.type == "video":
        facts.update(
            width=s.codec_context.width, height=s.codec_context.height,
            avg_rate=str(s.average_rate) if s.average_rate else None,
            guessed_rate=str(s.guessed_rate) if s.guessed_rate else None,
        )
    elif s.type == "audio":
        facts.update(sample_rate=s.codec_context.sample_rate, channels=s.codec_context.channels)
    return facts


def _decode_first_frames(container: Any, chosen: list[Any], streams: list[dict[str, Any]]) -> float:
    """Decode until each chosen stream yields a frame; returns the latest packet end seen."""
    import av

    pending = {s.index for s in chosen}
    end = 0.0
    try:
        for count, packet in enumerate(container.demux(chosen)):
            if packet.pts is not None and packet.time_base:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            if not pending or count > _MAX_DECODE_PACKETS:
                break
            if packet.stream.index not in pending:
                continue
            for frame in packet.decode():
                facts = streams[packet.stream.index]
                facts["decoded"] = True
                if packet.stream.type == "video":
                    facts.update(width=frame.width, height=frame.height, rotation=frame.rotation)
                pending.discard(packet.stream.index)
                break
    except (av.FFmpegError, ValueError):
        pass
    return end


def _scan_end(container: Any, chosen: list[Any], end: float) -> float:
    """Some files carry no duration (e.g. an unfinished MKV): find the last packet's end."""
    import av

    try:
        for packet in container.demux(chosen):
            if packet.pts is not None and packet.time_base:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    except (av.FFmpegError, ValueError):
        pass
    return end


if __name__ == "__main__":
    _path, _demuxer, _whitelist, _max_pixels = sys.argv[1:5]
    print(json.dumps(collect_facts(_path, _demuxer, _whitelist, int(_max_pixels))))
