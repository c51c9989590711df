"""Pure argv builders for ffmpeg. No I/O: every function returns data.

One process decodes the source once: `split` feeds a `scale` and a libx264
encoder per rung, plus a poster and a thumbnail-sprite branch. Each rung is its
own HLS output (fMP4 segments, EVENT playlist) so the lowest rung is playable
while the others are still encoding. Output paths are relative: the runner
starts ffmpeg with the output directory as its working directory, so no
caller-chosen path is ever parsed by ffmpeg as a pattern or URL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from worker.media.ladder import SEGMENT_S, Rendition
from worker.media.types import MediaInfo, MediaLimits

PLAYLIST = "index.m3u8"
INIT_SEGMENT = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
MASTER = "master.m3u8"
POSTER = "poster.jpg"
SPRITE = "sprite.jpg"
SPRITE_VTT = "sprite.vtt"
POSTER_MAX_WIDTH = 1280
SPRITE_TILE_WIDTH = 160
SPRITE_COLUMNS = 10
SPRITE_MAX_TILES = 200
SPRITE_MIN_INTERVAL_S = 5


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """x264 settings, tuned on lecture content with bench/transcode.py.

    All rungs encode at once in one process, so the rungs are the parallelism: one thread per
    encoder avoids frame-threading overhead on small machines. Large rungs (short side ≥
    `large_min_side`) cost most per frame; without B-frames, with a short lookahead and a
    cheaper motion search x264 spends far less on static slides there, and a slightly higher
    CRF gives back the bits. Small rungs keep veryfast's defaults: they are cheap, and their
    quality is the most sensitive to those shortcuts.
    """

    preset: str = "veryfast"
    tune: str | None = None
    crf: float = 23
    x264_params: str = ""
    large_min_side: int = 1080
    large_crf: float = 23.7
    large_x264_params: str = "bframes=0:me=dia:subme=1:rc-lookahead=5"
    threads: int = 1  # per encoder; 0 lets x264 decide


@dataclass(frozen=True, slots=True)
class SpritePlan:
    interval_s: int
    tile_width: int
    tile_height: int
    columns: int
    rows: int
    count: int


def sprite_plan(duration_s: float, display_w: int, display_h: int) -> SpritePlan:
    """At most SPRITE_MAX_TILES thumbnails in one sheet, one every `interval_s` seconds."""
    interval = max(SPRITE_MIN_INTERVAL_S, math.ceil(duration_s / SPRITE_MAX_TILES))
    count = max(1, math.ceil(duration_s / interval))
    tile_h = max(2, round(SPRITE_TILE_WIDTH * display_h / display_w / 2) * 2)
    columns = min(SPRITE_COLUMNS, count)
    return SpritePlan(interval, SPRITE_TILE_WIDTH, tile_h, columns, math.ceil(count / columns), count)


def poster_time(duration_s: float) -> float:
    """A frame a little into the talk: opening seconds are often black or a title card."""
    return round(min(duration_s * 0.1, 10.0), 3)


def input_args(src: str, info: MediaInfo, limits: MediaLimits) -> list[str]:
    """Forced demuxer, file protocol only, nested demuxers limited to the same family."""
    return [
        "-protocol_whitelist", "file",
        "-format_whitelist", info.format_whitelist,
        "-max_pixels", str(limits.max_pixels),
        "-probesize", "50000000",
        "-analyzeduration", "20000000",
        "-f", info.demuxer,
        "-i", f"file:{src}",
    ]


def _filter_graph(
    info: MediaInfo, renditions: list[Rendition], sprite: SpritePlan | None, poster_at: float | None
) -> tuple[str, dict[str, str], dict[str, str]]:
    """The filter_complex text and, per rung name, its video and audio pad labels."""
    chains: list[str] = []
    video_pads: dict[str, str] = {}
    audio_pads: dict[str, str] = {}
    video_rungs = [r for r in renditions if r.has_video]
    audio_rungs = [r for r in renditions if r.audio_kbps]
    if video_rungs and info.video is not None:
        branches = len(video_rungs) + (sprite is not None) + (poster_at is not None)
        labels = [f"vs{i}" for i in range(branches)]
        chains.append(
            f"[0:v:{info.video.index}]fps={video_rungs[0].fps},split={branches}"
            + "".join(f"[{label}]" for label in labels)
        )
        for i, rung in enumerate(video_rungs):
            chains.append(
                f"[{labels[i]}]scale={rung.width}:{rung.height}:flags=bicubic,setsar=1,format=yuv420p[v{i}]"
            )
            video_pads[rung.name] = f"[v{i}]"
        spare = labels[len(video_rungs):]
        if sprite is not None:
            chains.append(
                # select rather than fps=1/N: fps rounds a clip shorter than N/2 s down to no frame.
                f"[{spare.pop(0)}]select='isnan(prev_selected_t)+gte(t-prev_selected_t,{sprite.interval_s})',"
                f"scale={sprite.tile_width}:{sprite.tile_height},setsar=1,"
                f"tile={sprite.columns}x{sprite.rows}[sprite]"
            )
        if poster_at is not None:
            top = video_rungs[-1]
            width = min(top.width, POSTER_MAX_WIDTH)
            chains.append(f"[{spare.pop(0)}]trim=start={poster_at},scale={width}:-2,setsar=1[poster]")
    if audio_rungs and info.audio is not None:
        labels = [f"as{i}" for i in range(len(audio_rungs))]
        chains.append(
            "[0:a:0]aresample=48000:async=1:first_pts=0,"
            f"asplit={len(audio_rungs)}" + "".join(f"[{label}]" for label in labels)
        )
        for rung, label in zip(audio_rungs, labels, strict=True):
            audio_pads[rung.name] = f"[{label}]"
    return ";".join(chains), video_pads, audio_pads


def _video_codec_args(rung: Rendition, enc: EncoderSettings) -> list[str]:
    large = min(rung.width, rung.height) >= enc.large_min_side
    crf = enc.large_crf if large else enc.crf
    x264_params = enc.large_x264_params if large else enc.x264_params
    args = ["-c:v", "libx264", "-preset", enc.preset]
    if enc.tune:
        args += ["-tune", enc.tune]
    args += [
        "-crf", f"{crf:g}",
        "-maxrate", f"{rung.video_kbps}k",
        "-bufsize", f"{rung.video_kbps * 2}k",
        "-profile:v", "high",
        "-level:v", rung.level,
        "-pix_fmt", "yuv420p",
        # The same frame count per GOP in every rung, all fed by one fps filter:
        # keyframes line up across renditions and every segment starts with one.
        "-g", str(rung.keyint),
        "-keyint_min", str(rung.keyint),
        "-sc_threshold", "0",
    ]
    if enc.threads:
        args += ["-threads", str(enc.threads)]
    if x264_params:
        args += ["-x264-params", x264_params]
    return args


def hls_output_args(name: str) -> list[str]:
    return [
        "-f", "hls",
        "-hls_time", str(SEGMENT_S),
        "-hls_playlist_type", "event",
        "-hls_list_size", "0",
        "-hls_segment_type", "fmp4",
        "-hls_fmp4_init_filename", INIT_SEGMENT,
        "-hls_flags", "independent_segments+temp_file",
        "-hls_segment_filename", f"{name}/{SEGMENT_PATTERN}",
        f"{name}/{PLAYLIST}",
    ]


def transcode_argv(
    *,
    ffmpeg: str,
    src: str,
    info: MediaInfo,
    renditions: list[Rendition],
    limits: MediaLimits,
    encoder: EncoderSettings = EncoderSettings(),
    sprite: SpritePlan | None = None,
    poster_at: float | None = None,
) -> list[str]:
    """The one ffmpeg command that writes every rung (and poster, sprite) under the cwd."""
    graph, video_pads, audio_pads = _filter_graph(info, renditions, sprite, poster_at)
    argv = [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-nostats", "-progress", "pipe:1", "-stats_period", "0.5",
        *input_args(src, info, limits),
        "-filter_complex", graph,
    ]
    limit = ["-t", f"{limits.max_duration_s:g}"]
    for rung in renditions:
        out: list[str] = []
        if rung.name in video_pads:
            out += ["-map", video_pads[rung.name], *_video_codec_args(rung, encoder)]
        if rung.name in audio_pads:
            out += ["-map", audio_pads[rung.name], "-c:a", "aac", "-b:a", f"{rung.audio_kbps}k",
                    "-ac", str(rung.audio_channels)]
        argv += [*out, *limit, *hls_output_args(rung.name)]
    if sprite is not None and "[sprite]" in graph:
        argv += ["-map", "[sprite]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "4",
                 "-pix_fmt", "yuvj420p", "-update", "1", "-f", "image2", SPRITE]
    if poster_at is not None and "[poster]" in graph:
        argv += ["-map", "[poster]", "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3",
                 "-pix_fmt", "yuvj420p", "-update", "1", "-f", "image2", POSTER]
    return argv


def sprite_vtt(plan: SpritePlan, duration_s: float, image: str = SPRITE) -> str:
    """WebVTT cues pointing at tiles of the sprite sheet (media fragment `#xywh=`)."""
    lines = ["WEBVTT", ""]
    for i in range(plan.count):
        start = i * plan.interval_s
        if start >= duration_s:
            break
        end = min(duration_s, start + plan.interval_s)
        x = (i % plan.columns) * plan.tile_width
        y = (i // plan.columns) * plan.tile_height
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{image}#xywh={x},{y},{plan.tile_width},{plan.tile_height}",
            "",
        ]
    return "\n".join(lines)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def master_playlist(renditions: list[Rendition], bandwidth: dict[str, tuple[int, int]]) -> str:
    """Master playlist; `bandwidth` maps rung name -> (peak, average) bits/s measured on disk."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rung in renditions:
        peak, average = bandwidth[rung.name]
        attrs = [f"BANDWIDTH={peak}", f"AVERAGE-BANDWIDTH={average}", f'CODECS="{rung.codecs}"']
        if rung.has_video:
            attrs += [f"RESOLUTION={rung.width}x{rung.height}", f"FRAME-RATE={float(rung.fps):.3f}"]
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), f"{rung.name}/{PLAYLIST}"]
    return "\n".join(lines) + "\n"
