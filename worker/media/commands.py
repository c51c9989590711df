"""Pure argv builders for ffmpeg. No I/O: every function returns data.

One process decodes the source once and scales it in a cascade (each rung from a
bigger rung's picture, see `scale_parents`); every rung's picture feeds its libx264
encoder, and the poster and thumbnail-sprite branches reuse rung pictures. Audio is encoded
once per distinct bitrate and shared: all streams go to one tee output that hands each rung
its own HLS muxer (fMP4 segments, EVENT playlist), so the lowest rung is playable while the
others are still encoding. Output paths are relative: the runner starts ffmpeg with the
output directory as its working directory, so no caller-chosen path is ever parsed by ffmpeg
as a pattern or URL.
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
class X264Tier:
    """CRF and x264 options of the rungs whose short side is at least `min_side`."""

    min_side: int
    crf: float
    params: str


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """x264 settings, tuned on lecture content with bench/transcode.py.

    All rungs encode at once in one process, so the rungs are the parallelism: one thread per
    encoder avoids frame-threading overhead. Except the top rung: it is a third of the work
    (half of it when it is 720p), the other threads wait for it whenever its frame queue is
    full, and then it was the only runnable thread (7 % of the run, 2 cores at 1.89 busy);
    with two frame threads (and an async lookahead) it fills those gaps, 1.98 busy, for the
    same bits and VMAF. Beyond that the levers are CPU-seconds. Measured per encoder thread on
    the 120 s 1080p source, x264 has a per-frame floor on static slides (ultrafast still costs
    half of veryfast), and what is left above it is B-frame decisions and sub-pel search.
    `tiers` are tried in order; the first whose `min_side` the rung reaches applies:

    * 1080p and up: no B-frames, a short lookahead and full-pel search (subme=0 skips the
      half-pel interpolation of every frame), a slightly higher CRF gives back the bits.
      Partitions, 8x8dct, weightp or deblock there moved < 0.6 CPU-s.
    * 720p: one B-frame instead of veryfast's adaptive three (the same bits for −13 % CPU) and
      diamond search with subme=1 (−17 % more for ~8 % more bits). With b-adapt=0 every other
      frame is that B-frame, without the lookahead weighing P against B per frame: 0.5 % fewer
      bits at the same VMAF. A shorter lookahead (5) weakens mbtree: −12 % bits but −1.4 to
      −2.3 VMAF. CRF 24.5 takes back the ~3 % more bits of lanczos' sharper picture (+0.2 VMAF
      over PeerTube's rung remain).
    * Below 720p: the top tier's options. With lanczos scaling these rungs scored 3.5-5.7 VMAF
      above PeerTube's, so B-frames and sub-pel search bought quality nobody needed: without
      them −17 % CPU in these encoders, and CRF 25.5 keeps them at +0.8 (480p) and +2.0 (360p)
      VMAF for 4-7 % fewer bits than PeerTube's. Dropping mbtree as well tripled the bits for
      no CPU; partitions=none and weightp=0 saved 4 % CPU for 8 % more bits.
    """

    preset: str = "veryfast"
    tune: str | None = None
    tiers: tuple[X264Tier, ...] = (
        X264Tier(1080, 23.8, "bframes=0:me=dia:subme=0:rc-lookahead=5"),
        X264Tier(720, 24.5, "bframes=1:b-adapt=0:me=dia:subme=1"),
        X264Tier(0, 25.5, "bframes=0:me=dia:subme=0:rc-lookahead=5"),
    )
    threads: int = 1  # per encoder; 0 lets x264 decide
    top_threads: int = 2  # the largest rung's encoder
    decoder_threads: int = 1  # 0 lets the decoder decide

    def tier(self, rung: Rendition) -> X264Tier:
        short = min(rung.width, rung.height)
        return next(t for t in self.tiers if short >= t.min_side)


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
    whereas a 1.33× step (480p to 360p) cost 1.7 points (both measured with bicubic scaling).
    """
    shorts = [min(r.width, r.height) for r in renditions]
    return [
        next((j for j in range(i + 1, len(shorts)) if shorts[j] >= CASCADE_MIN_FACTOR * shorts[i]), None)
        for i in range(len(shorts))
    ]


def _filter_graph(
    info: MediaInfo, renditions: list[Rendition], sprite: SpritePlan | None, poster_at: float | None
) -> tuple[str, dict[str, str], list[str]]:
    """The filter_complex text, the video pad label per rung name, the audio pad per `audio_encodings` entry."""
    chains: list[str] = []
    video_pads: dict[str, str] = {}
    audio_pads: list[str] = []
    video_rungs = [r for r in renditions if r.has_video]
    encodings = audio_encodings(renditions)
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
            chains.append(f"[s{i}]{_scaler(rung, from_source=parents[i] is None)}" + _fan_out(feeds[i]))
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
    if encodings and info.audio is not None:
        labels = [f"a{j}" for j in range(len(encodings))]
        chains.append("[0:a:0]aresample=48000:async=1:first_pts=0" + _fan_out(labels, "asplit"))
        audio_pads = [f"[{label}]" for label in labels]
    return ";".join(chains), video_pads, audio_pads


def _scaler(rung: Rendition, *, from_source: bool) -> str:
    """Filters that turn a rung's parent picture into the rung's yuv420p picture with square pixels.

    Lanczos (3 taps): against the source, upscaled back, it scored 5.7 VMAF more than bicubic at
    360p, 3.5 at 480p and 1.0 at 720p for 2-3 % more bits, at about the same CPU (the resize kernel
    is a small part of a scale filter's cost). The source can be any pixel format and range, so
    libswscale (which converts anything) takes the rung that is scaled from it. Other rungs are
    scaled from a rung's yuv420p picture, where zimg costs about 30 % less CPU.
    """
    if from_source:
        return f"scale={rung.width}:{rung.height}:flags=lanczos,setsar=1,format=yuv420p"
    return f"zscale={rung.width}:{rung.height}:filter=lanczos,setsar=1"


def _audio_key(rung: Rendition) -> tuple[int, int]:
    return rung.audio_kbps, rung.audio_channels


def audio_encodings(renditions: list[Rendition]) -> list[tuple[int, int]]:
    """Distinct (kbps, channels) audio encodings, in first-use order: each is encoded once and shared."""
    return list(dict.fromkeys(_audio_key(r) for r in renditions if r.audio_kbps))


def _fan_out(labels: list[str], split: str = "split") -> str:
    """Filter-chain tail that hands one picture (or, with asplit, one audio stream) to every label."""
    if len(labels) == 1:
        return f"[{labels[0]}]"
    return f",{split}={len(labels)}" + "".join(f"[{label}]" for label in labels)


def _video_codec_args(rung: Rendition, enc: EncoderSettings, stream: int, *, top: bool) -> list[str]:
    """Encoder options for the output's video stream number `stream`; `top` marks the largest rung."""
    tier = enc.tier(rung)
    args = ["-c", "libx264", "-preset", enc.preset]
    if enc.tune:
        args += ["-tune", enc.tune]
    args += [
        "-crf", f"{tier.crf:g}",
        "-maxrate", f"{rung.video_kbps}k",
        "-bufsize", f"{rung.video_kbps * 2}k",
        "-profile", "high",
        "-level", rung.level,
        "-pix_fmt", "yuv420p",
        # The same frame count per GOP in every rung, all fed by one fps filter:
        # keyframes line up across renditions and every segment starts with one.
        "-g", str(rung.keyint),
        "-keyint_min", str(rung.keyint),
        "-sc_threshold", "0",
    ]
    threads = enc.top_threads if top else enc.threads
    if threads:
        args += ["-threads", str(threads)]
    if tier.params:
        args += ["-x264-params", tier.params]
    return _for_stream(args, f"v:{stream}")


def _for_stream(args: list[str], specifier: str) -> list[str]:
    """Flag/value pairs with every flag limited to one output stream (`-crf` -> `-crf:v:2`)."""
    return [f"{arg}:{specifier}" if i % 2 == 0 else arg for i, arg in enumerate(args)]


def hls_slave(name: str, streams: list[str]) -> str:
    """One tee slave: the HLS muxer of rung `name`, fed the tee's streams `streams` (e.g. v:0, a:0).

    Names and values are ours (rung names are letters and digits), so nothing needs escaping
    beyond the quoted stream list.
    """
    options = {
        "select": "\\'" + ",".join(streams) + "\\'",
        "f": "hls",
        "hls_time": str(SEGMENT_S),
        "hls_playlist_type": "event",
        "hls_list_size": "0",
        "hls_segment_type": "fmp4",
        "hls_fmp4_init_filename": INIT_SEGMENT,
        "hls_flags": "independent_segments+temp_file",
        "hls_segment_filename": f"{name}/{SEGMENT_PATTERN}",
    }
    return "[" + ":".join(f"{key}={value}" for key, value in options.items()) + f"]{name}/{PLAYLIST}"


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
        # Frame-threaded decoding costs ~20 % more CPU than one thread, and the encoders are
        # the parallelism (a 1080p decode thread is a fraction of one 1080p encoder).
        "-threads", str(encoder.decoder_threads),
        *input_args(src, info, limits),
        # The graph's zscale filters would otherwise split every frame across a thread per core:
        # −10 % CPU in the graph without them, and the encoders keep both cores busy anyway.
        "-filter_complex_threads", "1",
        "-filter_complex", graph,
    ]
    # One output whose streams are every rung's video, then each audio encoding once; the tee gives
    # every rung's HLS muxer its own video stream and the audio stream it shares with the others.
    video_rungs = [r for r in renditions if r.name in video_pads]
    for i, rung in enumerate(video_rungs):
        top = i == len(video_rungs) - 1  # lowest first
        argv += ["-map", video_pads[rung.name], *_video_codec_args(rung, encoder, i, top=top)]
    encodings = audio_encodings(renditions) if audio_pads else []
    for j, ((kbps, channels), pad) in enumerate(zip(encodings, audio_pads, strict=True)):
        argv += ["-map", pad, *_for_stream(["-c", "aac", "-b", f"{kbps}k", "-ac", str(channels)], f"a:{j}")]
    slaves = []
    for rung in renditions:
        streams = [f"v:{video_rungs.index(rung)}"] if rung in video_rungs else []
        if encodings and rung.audio_kbps:
            streams.append(f"a:{encodings.index(_audio_key(rung))}")
        slaves.append(hls_slave(rung.name, streams))
    argv += [
        # The tee cannot tell encoders that its HLS muxers want codec headers out of band (avcC in init.mp4).
        "-flags", "+global_header",
        "-t", f"{limits.max_duration_s:g}",
        "-f", "tee", "|".join(slaves),
    ]
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
