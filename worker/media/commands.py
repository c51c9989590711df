"""Pure argv builders for ffmpeg. No I/O: every function returns data.

The graph is built with ffmpeg-python, which labels the pads, inserts nothing on its own and
escapes every filter argument. One process decodes the source once and scales it in a cascade
(each rung from a bigger rung's picture, see `scale_parents`); every rung's picture feeds its
libx264 encoder, and the poster and thumbnail branches reuse rung pictures. Audio is
encoded once per distinct bitrate and shared: all streams go to one tee output that hands each
rung its own HLS muxer (fMP4 segments, EVENT playlist), so the lowest rung is playable while the
others are still encoding. Output paths are relative: the runner starts ffmpeg with the output
directory as its working directory, so no caller-chosen path is ever parsed by ffmpeg as a
pattern or URL.

ffmpeg writes its first `-progress` report only once every output has begun, so every output
must begin with the source's first frames: the thumbnails leave the graph one by one and a
second, tiny command tiles them into the sprite sheet afterwards (a sheet tiled in the graph
begins only when it is full, at the end of the source), and the poster output takes the first
frame before the one it keeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import ffmpeg as ffmpeg_python

from worker.media.ladder import SEGMENT_S, Rendition
from worker.media.types import MediaInfo, MediaLimits

Stream = ffmpeg_python.nodes.FilterableStream

PLAYLIST = "index.m3u8"
INIT_SEGMENT = "init.mp4"
SEGMENT_PATTERN = "seg_%05d.m4s"
MASTER = "master.m3u8"
POSTER = "poster.jpg"
SPRITE = "sprite.jpg"
SPRITE_VTT = "sprite.vtt"
SPRITE_TILES = "sprite-tiles.nut"  # the sheet's thumbnails, uncompressed, until it is tiled
POSTER_MAX_WIDTH = 1280
SPRITE_TILE_WIDTH = 160
SPRITE_COLUMNS = 10
SPRITE_MAX_TILES = 200
SPRITE_MIN_INTERVAL_S = 5


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
    encoder, the top rung's included. Two frame threads for the top rung kept the cores no busier
    (1.90 of 2 either way) and cost 5 % more CPU for the whole run in paired runs on the 120 s
    source, though only 0.7 % more instructions: most likely two 1080p frames in flight sharing
    the caches. Beyond that the levers are CPU-seconds. Measured per encoder thread on the 120 s 1080p source, x264
    has a per-frame floor on static slides (ultrafast still costs half of veryfast), and what is
    left above it is B-frame decisions and sub-pel search.
    `tiers` are tried in order; the first whose `min_side` the rung reaches applies:

    * 1080p and up: no B-frames, a short lookahead and full-pel search (subme=0 skips the
      half-pel interpolation of every frame), a slightly higher CRF gives back the bits.
      No deblocking: at this size and QP it softened slide text (+0.15 VMAF and the same bits
      without it) and took 2 % of the run's instructions. Partitions, 8x8dct or weightp there
      moved < 0.3 %.
    * 720p: one B-frame instead of veryfast's adaptive three (the same bits for −13 % CPU) and
      diamond search with subme=1 (−17 % more for ~8 % more bits). With b-adapt=0 every other
      frame is that B-frame, without the lookahead weighing P against B per frame: 0.5 % fewer
      bits at the same VMAF. A shorter lookahead (5) weakens mbtree: −12 % bits but −1.4 to
      −2.3 VMAF. CRF 24.5 takes back the ~3 % more bits of lanczos' sharper picture (+0.2 VMAF
      over PeerTube's rung remain).
    * Below 720p: the top tier's options, deblocking kept (blocks on a talking head at these
      sizes are what viewers on weak networks see). With lanczos scaling these rungs scored
      3.5-5.7 VMAF above PeerTube's, so B-frames and sub-pel search bought quality nobody
      needed: without them −17 % CPU in these encoders, and CRF 25.5 keeps them at +0.8 (480p)
      and +2.4 (360p) VMAF for 4-7 % fewer bits than PeerTube's. Dropping mbtree as well tripled
      the bits for no CPU; partitions=none and weightp=0 saved 4 % CPU for 8 % more bits.
    """

    preset: str = "veryfast"
    tiers: tuple[X264Tier, ...] = (
        X264Tier(1080, 23.8, "bframes=0:me=dia:subme=0:rc-lookahead=5:no-deblock=1"),
        X264Tier(720, 24.5, "bframes=1:b-adapt=0:me=dia:subme=1"),
        X264Tier(0, 25.5, "bframes=0:me=dia:subme=0:rc-lookahead=5"),
    )
    threads: int = 1  # per encoder; 0 lets x264 decide
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


def source(src: str, info: MediaInfo, limits: MediaLimits, *, threads: int = 1) -> Stream:
    """The one input: forced demuxer, file protocol only, nested demuxers limited to the same family."""
    return ffmpeg_python.input(
        f"file:{src}",
        format=info.demuxer,
        protocol_whitelist="file",
        format_whitelist=info.format_whitelist,
        max_pixels=limits.max_pixels,
        probesize=50_000_000,
        analyzeduration=20_000_000,
        # Frame-threaded decoding costs ~20 % more CPU than one thread, and the encoders are
        # the parallelism (a 1080p decode thread is a fraction of one 1080p encoder).
        threads=threads,
    )


def scale_parents(renditions: list[Rendition]) -> list[int | None]:
    """Per video rung (lowest first), the index of the rung it is scaled from; None for the source.

    Each rung is scaled from the next bigger rung's picture: downscaling an already downscaled
    picture costs a fraction of scaling the source again, and with lanczos the smaller steps lose
    nothing: 360p from 480p (a picture half the size of 720p's) scored 0.4 VMAF more than 360p
    from 720p, where bicubic had lost 1.7 points on the same step.
    """
    return [i + 1 if i + 1 < len(renditions) else None for i in range(len(renditions))]


def _fan_out(stream: Stream, count: int, split: str = "split") -> list[Stream]:
    """`count` streams carrying the same pictures (or, with asplit, the same audio)."""
    if count == 1:
        return [stream]
    node = stream.filter_multi_output(split)
    return [node[i] for i in range(count)]


def _scaled(picture: Stream, rung: Rendition, *, from_source: bool) -> Stream:
    """A rung's yuv420p picture with square pixels, from its parent picture.

    Lanczos (3 taps): against the source, upscaled back, it scored 5.7 VMAF more than bicubic at
    360p, 3.5 at 480p and 1.0 at 720p for 2-3 % more bits. It is not free (1.7-2.0 ms a frame
    from 1080p to 720p in zimg, 0.9 ms with bicubic), but the VMAF it buys at the small rungs
    pays for their cheap encoder settings. The source can be any pixel format and range, so
    libswscale (which converts anything) takes the rung that is scaled from it; for a yuv420p
    source of the top rung's size that is no work at all. Other rungs are scaled from a rung's
    yuv420p picture by zimg, at less than half of libswscale's lanczos (4 ms a frame).
    """
    if from_source:
        picture = picture.filter("scale", rung.width, rung.height, flags="lanczos")
        return picture.filter("setsar", 1).filter("format", "yuv420p")
    return picture.filter("zscale", rung.width, rung.height, filter="lanczos").filter("setsar", 1)


@dataclass(frozen=True, slots=True)
class _Pictures:
    """The filter graph's video outputs: one stream per rung (lowest first), sprite thumbnails, poster."""

    rungs: list[Stream]
    sprite_tiles: Stream | None
    poster: Stream | None


def _pictures(
    video: Stream, renditions: list[Rendition], fps: Fraction, sprite: SpritePlan | None, poster_at: float | None
) -> _Pictures:
    """Decode once, scale in a cascade (see `scale_parents`); sprite and poster reuse rung pictures."""
    parents = scale_parents(renditions)
    # Who reads each picture: key None is the source (after fps), an int a rung's scaled picture.
    readers: dict[int | None, list[str]] = {None: [], **{i: [f"encode:{i}"] for i in range(len(renditions))}}
    for i, parent in enumerate(parents):
        readers[parent].append(f"scale:{i}")
    if sprite is not None:
        # The sprite's few thumbnails come from the smallest picture; select drops the rest first.
        readers[0].append("sprite")
    poster_width = min(renditions[-1].width, POSTER_MAX_WIDTH)
    if poster_at is not None:
        # From the smallest rung at least as wide: no second scale of the source for one frame.
        readers[next(i for i, r in enumerate(renditions) if r.width >= poster_width)].append("poster")
    inputs: dict[str, Stream] = {}

    def hand_out(picture: Stream, key: int | None) -> None:
        inputs.update(zip(readers[key], _fan_out(picture, len(readers[key])), strict=True))

    hand_out(video.filter("fps", str(fps)), None)
    for i in reversed(range(len(renditions))):  # parents before children
        hand_out(_scaled(inputs[f"scale:{i}"], renditions[i], from_source=parents[i] is None), i)
    tiles = thumb = None
    if sprite is not None:
        tiles = (
            # select rather than fps=1/N: fps rounds a clip shorter than N/2 s down to no frame.
            inputs["sprite"]
            .filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{sprite.interval_s})")
            .filter("scale", sprite.tile_width, sprite.tile_height)
            .filter("setsar", 1)
        )
    if poster_at is not None:
        # The first frame too, so that the output begins at once (see the module docstring); the frame
        # at `poster_at` then replaces it in the file.
        thumb = (
            inputs["poster"]
            .filter("select", f"eq(n,0)+gte(t,{poster_at})")
            .filter("scale", poster_width, -2)
            .filter("setsar", 1)
        )
    return _Pictures([inputs[f"encode:{i}"] for i in range(len(renditions))], tiles, thumb)


def _audio_key(rung: Rendition) -> tuple[int, int]:
    return rung.audio_kbps, rung.audio_channels


def audio_encodings(renditions: list[Rendition]) -> list[tuple[int, int]]:
    """Distinct (kbps, channels) audio encodings, in first-use order: each is encoded once and shared."""
    return list(dict.fromkeys(_audio_key(r) for r in renditions if r.audio_kbps))


def _video_codec_options(rung: Rendition, enc: EncoderSettings, stream: int) -> dict[str, str]:
    """Encoder options for the output's video stream number `stream`."""
    tier = enc.tier(rung)
    options = {
        "c": "libx264",
        "preset": enc.preset,
        "crf": f"{tier.crf:g}",
        "maxrate": f"{rung.video_kbps}k",
        "bufsize": f"{rung.video_kbps * 2}k",
        "profile": "high",
        "level": rung.level,
        "pix_fmt": "yuv420p",
        # The same frame count per GOP in every rung, all fed by one fps filter:
        # keyframes line up across renditions and every segment starts with one.
        "g": str(rung.keyint),
        "keyint_min": str(rung.keyint),
        "sc_threshold": "0",
        "threads": str(enc.threads),
    }
    if tier.params:
        options["x264-params"] = tier.params
    return _for_stream(options, f"v:{stream}")


def _for_stream(options: dict[str, str], specifier: str) -> dict[str, str]:
    """Options limited to one output stream (`crf` -> `crf:v:2`)."""
    return {f"{key}:{specifier}": value for key, value in options.items()}


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


def _still(picture: Stream, filename: str, quality: int, frames: int = 1) -> ffmpeg_python.nodes.OutputStream:
    """One JPEG: the last of the picture's first `frames` frames."""
    options = {"frames:v": frames, "c:v": "mjpeg", "q:v": quality, "pix_fmt": "yuvj420p", "update": 1,
               # The frames as they come: constant-rate output would count copies filling their gaps.
               "fps_mode": "passthrough"}
    return picture.output(filename, format="image2", **options)


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
    inp = source(src, info, limits, threads=encoder.decoder_threads)
    video_rungs = [r for r in renditions if r.has_video] if info.video is not None else []
    pictures = (
        _pictures(inp[f"v:{info.video.index}"], video_rungs, video_rungs[0].fps, sprite, poster_at)
        if info.video is not None and video_rungs
        else _Pictures([], None, None)
    )
    encodings = audio_encodings(renditions) if info.audio is not None else []
    sounds = []
    if encodings:
        resampled = inp["a:0"].filter("aresample", 48000, **{"async": 1, "first_pts": 0})
        sounds = _fan_out(resampled, len(encodings), "asplit")
    # One output whose streams are every rung's video, then each audio encoding once; the tee gives
    # every rung's HLS muxer its own video stream and the audio stream it shares with the others.
    options: dict[str, str] = {}
    for i, rung in enumerate(video_rungs):
        options |= _video_codec_options(rung, encoder, i)
    for j, (kbps, channels) in enumerate(encodings):
        options |= _for_stream({"c": "aac", "b": f"{kbps}k", "ac": str(channels)}, f"a:{j}")
    slaves = []
    for rung in renditions:
        streams = [f"v:{video_rungs.index(rung)}"] if rung in video_rungs else []
        if encodings and rung.audio_kbps:
            streams.append(f"a:{encodings.index(_audio_key(rung))}")
        slaves.append(hls_slave(rung.name, streams))
    outputs = [
        ffmpeg_python.output(
            *pictures.rungs, *sounds, "|".join(slaves), format="tee", **options,
            # The tee cannot tell encoders that its HLS muxers want codec headers out of band (avcC in init.mp4).
            flags="+global_header",
            t=f"{limits.max_duration_s:g}",
        )
    ]
    if pictures.sprite_tiles is not None:
        outputs.append(pictures.sprite_tiles.output(SPRITE_TILES, format="nut", **{"c:v": "rawvideo"}))
    if pictures.poster is not None:
        outputs.append(_still(pictures.poster, POSTER, 3, frames=2))
    command = [
        *_quiet(ffmpeg), "-nostats", "-progress", "pipe:1", "-stats_period", "0.5",
        # The graph's zscale filters would otherwise split every frame across a thread per core:
        # −10 % CPU in the graph without them, and the encoders keep both cores busy anyway.
        "-filter_complex_threads", "1",
    ]
    return ffmpeg_python.merge_outputs(*outputs).compile(cmd=command)


def _quiet(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]


def sprite_sheet_argv(ffmpeg: str, plan: SpritePlan) -> list[str]:
    """Tile the thumbnails the transcode wrote (SPRITE_TILES, under the cwd) into the sprite sheet."""
    tiles = ffmpeg_python.input(f"file:{SPRITE_TILES}", format="nut", protocol_whitelist="file")
    sheet = tiles.video.filter("tile", f"{plan.columns}x{plan.rows}")
    return _still(sheet, SPRITE, 4).compile(cmd=_quiet(ffmpeg))


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
