"""Assertions on a finished HLS ladder, shared by the functional and hostile tests."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import m3u8

from worker.media.pipeline import TranscodeResult


def _joined(rung_dir: Path) -> Path:
    playlist = m3u8.loads((rung_dir / "index.m3u8").read_text())
    joined = rung_dir.parent / f"{rung_dir.name}-joined.mp4"
    with joined.open("wb") as out:
        out.write((rung_dir / "init.mp4").read_bytes())
        for segment in playlist.segments:
            out.write((rung_dir / segment.uri).read_bytes())
    return joined


def video_pts_steps(rung_dir: Path) -> set[Fraction]:
    """Distinct gaps between consecutive video frames: one value means constant frame rate."""
    joined = _joined(rung_dir)
    with av.open(str(joined)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
    joined.unlink()
    return {Fraction(b - a) * stream.time_base for a, b in itertools.pairwise(pts)}


def track_durations(rung_dir: Path) -> dict[str, float]:
    """Seconds covered by each track of a rung, read back from its init + segments."""
    joined = _joined(rung_dir)
    with av.open(str(joined)) as container:
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        for packet in container.demux():
            if packet.pts is None:
                continue
            kind = packet.stream.type
            start = float(packet.pts * packet.time_base)
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            first[kind] = min(first.get(kind, start), start)
            last[kind] = max(last.get(kind, end), end)
        spans = {kind: last[kind] - first[kind] for kind in first}
    joined.unlink()
    return spans


def check_ladder(outdir: Path, result: TranscodeResult, display: tuple[int, int] | None) -> None:
    """Playlists parse, segments are ~2 s, no rung exceeds the source, A/V stay together."""
    master = m3u8.loads((outdir / "master.m3u8").read_text())
    assert master.is_variant
    assert [p.uri for p in master.playlists] == [r.playlist for r in result.renditions]
    for rung in result.renditions:
        playlist = m3u8.loads((outdir / rung.playlist).read_text())
        assert playlist.is_endlist and playlist.playlist_type == "event"
        durations = [float(s.duration) for s in playlist.segments]
        assert durations
        assert all(1.5 <= d <= 4.0 for d in durations[:-1]), durations
        assert 0 < durations[-1] <= 4.0
        if display is not None and rung.width:
            assert rung.width <= display[0] and rung.height <= display[1]
            assert rung.width % 2 == 0 and rung.height % 2 == 0
        spans = track_durations(outdir / rung.name)
        if "video" in spans and "audio" in spans:
            assert abs(spans["video"] - spans["audio"]) <= 0.2, spans
        assert abs(max(spans.values()) - result.duration_s) <= 0.25, (spans, result.duration_s)
