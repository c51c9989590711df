"""Local transcode: hostile source file in, finished HLS ladder out. No S3, no database.

Output layout under `outdir` (rung names from `ladder.build_ladder`, e.g. 360p, 720p, a64k)::

    <rung>/init.mp4          fMP4 init segment
    <rung>/seg_00000.m4s …   2-second fMP4 media segments
    <rung>/index.m3u8        EVENT playlist of the rung
    poster.jpg, sprite.jpg, sprite.vtt
    master.m3u8              written last

Progressive publish contract — which files are final when (a watcher polls `outdir`):

* All rungs encode in parallel in one ffmpeg process, so every rung, the lowest
  included, gains a segment every ~2 s of source time from the start.
* `<rung>/index.m3u8` is only ever replaced by rename (ffmpeg writes
  `index.m3u8.tmp` first), so any version read is complete and consistent.
* A segment is written as `seg_N.m4s.tmp` and renamed when complete, *before* the
  playlist that lists it is renamed into place. Hence: a segment is final exactly when
  some version of its rung's `index.m3u8` lists it; `init.mp4` (its `#EXT-X-MAP`) is
  final once the first `index.m3u8` of that rung exists. Never upload `*.tmp` files.
* Publish order per rung: upload the new segments (and init.mp4 the first time) a
  playlist lists, then that playlist. A rung is done when its playlist has
  `#EXT-X-ENDLIST`. Until the master exists, players can be pointed at the lowest
  video rung's playlist (the first rendition in `TranscodeResult.renditions`); as an
  EVENT playlist it starts at its beginning with `startPosition: 0` in hls.js.
* `poster.jpg`, `sprite.jpg`, `sprite.vtt` are final only once `master.m3u8` exists.
  `sprite-tiles.nut` holds the sheet's thumbnails while ffmpeg runs and is gone at the end.
* `master.m3u8` is written last, atomically, after every rung has `#EXT-X-ENDLIST`;
  its presence means the whole ladder is final.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import m3u8

from worker.media import commands, run
from worker.media.commands import EncoderSettings
from worker.media.ladder import Rendition, build_ladder
from worker.media.probe import probe
from worker.media.types import MediaInfo, MediaLimits, MediaRejected

NO_SPACE = "No space left on device"
SPRITE_SHEET_TIMEOUT_S = 60  # at most SPRITE_MAX_TILES small pictures


@dataclass(frozen=True, slots=True)
class RenditionResult:
    name: str
    width: int
    height: int
    playlist: str  # relative to outdir
    segments: int
    peak_bps: int
    average_bps: int


@dataclass(frozen=True, slots=True)
class TranscodeResult:
    duration_s: float
    info: MediaInfo
    renditions: list[RenditionResult]
    poster: str | None
    sprite: str | None
    sprite_vtt: str | None
    master: str
    argv: list[str]


def transcode_to_dir(
    src: Path,
    outdir: Path,
    *,
    ffmpeg: str,
    limits: MediaLimits = MediaLimits(),
    encoder: EncoderSettings = EncoderSettings(),
    on_progress: Callable[[run.Progress], None] | None = None,
    on_probed: Callable[[MediaInfo, list[Rendition]], None] | None = None,
    cancel: threading.Event | None = None,
) -> TranscodeResult:
    """Probe and transcode `src` into `outdir`; raises MediaRejected or run.ProcessCancelled."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jiangtang-media-") as work:
        private = Path(work) / "source"
        # A private copy: ffmpeg never sees the caller's name or a file that can change under it.
        shutil.copyfile(src, private)
        os.chmod(private, 0o600)
        info = probe(private, limits=limits)
        renditions = build_ladder(info)
        if on_probed is not None:
            on_probed(info, renditions)
        sprite = poster_at = None
        if info.video is not None:
            sprite = commands.sprite_plan(info.duration_s, *info.video.display_size)
            poster_at = commands.poster_time(info.duration_s)
        for rung in renditions:
            (outdir / rung.name).mkdir(exist_ok=True)
        argv = commands.transcode_argv(
            ffmpeg=ffmpeg, src=str(private), info=info, renditions=renditions, limits=limits,
            encoder=encoder, sprite=sprite, poster_at=poster_at,
        )
        _ffmpeg(argv, outdir, timeout_s=limits.transcode_timeout_s(info.duration_s), duration_s=info.duration_s,
                on_progress=on_progress, cancel=cancel)
        if sprite is not None and (outdir / commands.SPRITE_TILES).is_file():
            _ffmpeg(commands.sprite_sheet_argv(ffmpeg, sprite), outdir, timeout_s=SPRITE_SHEET_TIMEOUT_S,
                    cancel=cancel)
            (outdir / commands.SPRITE_TILES).unlink()
    results = [_finished_rendition(outdir, rung) for rung in renditions]
    duration = _playlist_duration(outdir / results[-1].playlist)
    poster = commands.POSTER if (outdir / commands.POSTER).is_file() else None
    vtt = None
    if sprite is not None and (outdir / commands.SPRITE).is_file():
        _write_atomic(outdir / commands.SPRITE_VTT, commands.sprite_vtt(sprite, duration))
        vtt = commands.SPRITE_VTT
    bandwidth = {r.name: (r.peak_bps, r.average_bps) for r in results}
    _write_atomic(outdir / commands.MASTER, commands.master_playlist(renditions, bandwidth))
    return TranscodeResult(
        duration_s=duration, info=info, renditions=results, poster=poster,
        sprite=commands.SPRITE if vtt else None, sprite_vtt=vtt, master=commands.MASTER, argv=argv,
    )


def _ffmpeg(argv: list[str], outdir: Path, *, timeout_s: float, duration_s: float = 0.0,
            on_progress: Callable[[run.Progress], None] | None = None,
            cancel: threading.Event | None = None) -> None:
    """Run one of our ffmpeg commands in `outdir`; a failure caused by the file becomes MediaRejected."""
    try:
        run.run(argv, cwd=str(outdir), timeout_s=timeout_s, duration_s=duration_s, on_progress=on_progress,
                cancel=cancel)
    except run.ProcessCancelled:
        raise
    except run.ProcessTimeout as exc:
        raise MediaRejected("转码超时，文件可能已损坏或过于复杂") from exc
    except run.ProcessFailed as exc:
        if NO_SPACE in exc.stderr_tail:  # our disk, not the file: worth retrying later
            raise OSError(errno.ENOSPC, NO_SPACE) from exc
        raise MediaRejected("转码失败，文件内容可能已损坏") from exc


def _finished_rendition(outdir: Path, rung: Rendition) -> RenditionResult:
    playlist_path = outdir / rung.name / commands.PLAYLIST
    if not playlist_path.is_file():
        raise MediaRejected("转码失败，未生成可播放的内容")
    playlist = m3u8.loads(playlist_path.read_text())
    if not playlist.is_endlist or not playlist.segments:
        raise MediaRejected("转码失败，未生成可播放的内容")
    init_bytes = (outdir / rung.name / commands.INIT_SEGMENT).stat().st_size
    peak = 0.0
    total_bits = init_bytes * 8.0
    total_s = 0.0
    for segment in playlist.segments:
        size = (outdir / rung.name / segment.uri).stat().st_size
        seconds = max(float(segment.duration), 0.001)
        total_bits += size * 8.0
        total_s += seconds
        # A very short last segment would overstate the peak; judge it over a full slot.
        peak = max(peak, size * 8.0 / max(seconds, 1.0))
    return RenditionResult(
        name=rung.name, width=rung.width, height=rung.height,
        playlist=f"{rung.name}/{commands.PLAYLIST}", segments=len(playlist.segments),
        peak_bps=max(1, round(peak)), average_bps=max(1, round(total_bits / max(total_s, 0.001))),
    )


def _playlist_duration(path: Path) -> float:
    return round(sum(float(s.duration) for s in m3u8.loads(path.read_text()).segments), 3)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
