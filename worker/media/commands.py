"""Pure argv builders for ffmpeg. No I/O: every function returns data.

One process decodes the source once and scales it in a cascade (each rung from a
bigger rung's picture, see `scale_parents`); every rung's picture feeds its libx264
encoder, and the poster and thumbnail-sprite branches reuse rung pictures. Each rung is its
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
CASCADE_MIN_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """x264 settings, tuned on lecture content with bench/transcode.py.

    All rungs encode at once in one process, so the rungs are the parallelism: one thread per
    encoder avoids frame-threading overhead. Measured on 2 cores with the 120 s 1080p source,
    the process already keeps ~1.9 cores busy (68 CPU-s in 36 s) and the 1080p encoder is ~27 %
    of the CPU time, not a critical path; more x264 threads there changed nothing. So the
    levers are CPU-seconds: large rungs (short side ≥ `large_min_side`) cost most per frame;
    without B-frames, with a short lookahead and full-pel motion search (subme=0 skips x264's
    half-pel interpolation of every frame, −5 CPU-s at the same VMAF) x264 spends far less
    on static slides there, and a slightly higher CRF gives back the bits. Small rungs keep
    veryfast's defaults: at 720p, dropping B-frames or subme cost 5-12 % more bits or over a
    VMAF point.
    """

    preset: str = "veryfast"
    tune: str | None = None
    crf: float = 23
    x264_params: str = ""
    large_min_side: int = 1080
    large_crf: float = 23.8
    large_x264_params: str = "bframes=0:me=dia:subme=0:rc-lookahead=5"
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


def scale_parents(renditions: list[Rendition]) -> list[int | None]:
    """Per video rung (lowest first), the index of the rung it is scaled from; None for the source.

    Downscaling an already downscaled picture costs a fraction of scaling the source again. A
    rung is taken from the smallest bigger rung at least CASCADE_MIN_FACTOR times its short
    side: a 1.5× or 2× step keeps VMAF within a few tenths of scaling the source directly,
    whereas a 1.33× step (480p to 360p) cost 1.7 points.
    """
    shorts = [min(r.width, r.height) for r in renditions]
    return [
        next((j for j in range(i + 1, len(shorts)) if shorts[j] >= CASCADE_MIN_FACTOR * shorts[i]), None)
        for i in range(len(shorts))
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
        parents = scale_parents(video_rungs)
        # Consumers of each picture: key None is the source (after fps), an int a rung's scaled output.
        feeds: dict[int | None, list[str]] = {None: [], **{i: [f"v{i}"] for i in range(len(video_rungs))}}
        for i, parent in enumerate(parents):
            feeds[parent].append(f"s{i}")
        if sprite is not None:
            # The sprite's few tiles come from the smallest picture; select drops the rest first.
            feeds[0].append("sprite_in")
        poster_width = min(video_rungs[-1].width, POSTER_MAX_WIDTH)
        if poster_at is not None:
            # From the smallest rung at least as wide: no second scale of the source for one frame.
            feeds[next(i for i, r in enumerate(video_rungs) if r.width >= poster_width)].append("poster_in")
        chains.append(f"[0:v:{info.video.index}]fps={video_rungs[0].fps}" + _fan_out(feeds[None]))
        # Parents before children, so each chain reads a label defined above it.
        for i in sorted(range(len(video_rungs)), reverse=True):
            rung = video_rungs[i]
            chains.append(
                f"[s{i}]scale={rung.width}:{rung.height}:flags=bicubic,setsar=1,format=yuv420p" + _fan_out(feeds[i])
            )
            video_pads[rung.name] = f"[v{i}]"
        if sprite is not None:
            chains.append(
                # select rather than fps=1/N: fps rounds a clip shorter than N/2 s down to no frame.
                f"[sprite_in]select='isnan(prev_selected_t)+gte(t-prev_selected_t,{sprite.interval_s})',"
                f"scale={sprite.tile_width}:{sprite.tile_height},setsar=1,"
                f"tile={sprite.columns}x{sprite.rows}[sprite]"
            )
        if poster_at is not None:
            chains.append(f"[poster_in]trim=start={poster_at},scale={poster_width}:-2,setsar=1[poster]")
    if audio_rungs and info.audio is not None:
        labels = [f"as{i}" for i in range(len(audio_rungs))]
        chains.append(
            "[0:a:0]aresample=48000:async=1:first_pts=0,"
            f"asplit={len(audio_rungs)}" + "".join(f"[{label}]" for label in labels)
        )
        for rung, label in zip(audio_rungs, labels, strict=True):
            audio_pads[rung.name] = f"[{label}]"
    return ";".join(chains), video_pads, audio_pads


def _fan_out(labels: list[str]) -> str:
    """Filter-chain tail that hands one picture to every label."""
    if len(labels) == 1:
        return f"[{labels[0]}]"
    return f",split={len(labels)}" + "".join(f"[{label}]" for label in labels)


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
