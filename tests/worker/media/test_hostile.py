"""Uploads are hostile: each file is rejected with a Chinese reason or transcoded safely, in time."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.worker.media.avcheck import check_ladder
from tests.worker.media.conftest import MakeMedia, lavfi_av
from worker.media import commands, run
from worker.media.pipeline import transcode_to_dir
from worker.media.types import MediaInfo, MediaLimits, MediaRejected

TIME_LIMIT_S = 30.0


class Canary:
    """A TCP listener that records every connection attempt."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits += 1
            conn.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.stop.set()
    listener.thread.join()
    listener.sock.close()
    assert listener.hits == 0


def attempt(src: Path, outdir: Path, ffmpeg: str, limits: MediaLimits) -> str | None:
    """Reason for rejection, or None after checking the produced ladder."""
    started = time.monotonic()
    try:
        result = transcode_to_dir(src, outdir, ffmpeg=ffmpeg, limits=limits)
    except MediaRejected as exc:
        assert time.monotonic() - started < TIME_LIMIT_S
        assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.reason_zh)
        assert "\n" not in exc.reason_zh
        return exc.reason_zh
    assert time.monotonic() - started < TIME_LIMIT_S
    check_ladder(outdir, result, None)
    return None


def playlist(*uris: str) -> str:
    body = "".join(f"#EXTINF:2.0,\n{uri}\n" for uri in uris)
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n{body}#EXT-X-ENDLIST\n"


@pytest.fixture(scope="module")
def good(make_media: MakeMedia) -> Path:
    return make_media("hostile-good.mp4", *lavfi_av("320x240", 25, 3))


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("zero.mp4", b""),
        ("page.mp4", b"<!DOCTYPE html><html><body>lecture</body></html>"),
        ("archive.mp4", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(200)),
        ("concat.mp4", "ffconcat version 1.0\nfile '/etc/passwd'\nfile 'source'\n"),
        ("photo.mp4", b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(300)),
        ("noise.mp4", os.urandom(4096)),
        ("subrip.mp4", "1\n00:00:00,000 --> 00:00:02,000\nhello\n"),
    ],
)
def test_not_media_is_rejected(name: str, content: bytes | str, tmp_path: Path, ffmpeg: str,
                               test_limits: MediaLimits) -> None:
    assert attempt(write(tmp_path / name, content), tmp_path / "out", ffmpeg, test_limits)


def test_hls_playlists_named_mp4_are_rejected_without_network(good: Path, canary: Canary, tmp_path: Path,
                                                              ffmpeg: str, test_limits: MediaLimits) -> None:
    url = f"http://127.0.0.1:{canary.port}/seg.ts"
    local = write(tmp_path / "local.mp4", playlist(str(good), f"file://{good}", "/etc/passwd"))
    remote = write(tmp_path / "remote.mp4", playlist(url, url))
    # A valid ftyp box in front makes the sniff say MP4; the forced mov demuxer then finds junk.
    ftyp = b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom"
    polyglot = write(tmp_path / "polyglot.mp4", ftyp + playlist(url).encode())
    id3 = write(tmp_path / "id3.mp4", b"ID3\x04\x00\x00\x00\x00\x00\x00" + playlist(url).encode())
    for src in (local, remote, polyglot, id3):
        assert attempt(src, tmp_path / f"out-{src.stem}", ffmpeg, test_limits), src.name
    assert canary.hits == 0


def test_forced_hls_demuxer_still_cannot_reach_the_network(canary: Canary, tmp_path: Path, ffmpeg: str,
                                                           test_limits: MediaLimits) -> None:
    """Defence in depth: even if the sniff were fooled, the protocol whitelist holds."""
    url = f"http://127.0.0.1:{canary.port}/seg.ts"
    src = write(tmp_path / "list.m3u8", playlist(url))
    info = MediaInfo("hls", "hls", 2.0, 1, None, None)
    argv = commands.source(str(src), info, test_limits).output("-", format="null").compile(cmd=[ffmpeg, "-nostdin"])
    with pytest.raises(run.ProcessFailed):
        run.run(argv, timeout_s=10)
    assert canary.hits == 0


def test_pattern_names_are_never_expanded(good: Path, tmp_path: Path, ffmpeg: str,
                                          test_limits: MediaLimits) -> None:
    src = tmp_path / "img%03d.mp4"
    src.write_bytes(good.read_bytes())
    write(tmp_path / "img001.mp4", b"not media")
    outdir = tmp_path / "out%d"
    assert attempt(src, outdir, ffmpeg, test_limits) is None
    assert (outdir / "240p" / "seg_00000.m4s").is_file()


def _mjpeg_claiming(make_media: MakeMedia, size: int) -> bytes:
    """A tiny MJPEG .mov whose sample entry and JPEG header both claim size×size pixels."""
    data = bytearray(make_media("tiny-mjpeg.mov", "-f", "lavfi", "-i", "color=s=64x64:d=0.04:r=25",
                                "-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p").read_bytes())
    entry = data.index(b"jpeg", data.index(b"stsd"))
    struct.pack_into(">HH", data, entry + 4 + 24, size, size)
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, size, size)
    return bytes(data)


def test_16k_frame_is_rejected(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                               test_limits: MediaLimits) -> None:
    src = write(tmp_path / "huge.mp4", _mjpeg_claiming(make_media, 16000))
    reason = attempt(src, tmp_path / "out", ffmpeg, test_limits)
    assert reason and "分辨率" in reason


def test_hundreds_of_streams_are_rejected(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                          test_limits: MediaLimits) -> None:
    maps = [arg for _ in range(300) for arg in ("-map", "0:a")]
    src = make_media("streams.mkv", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono:d=0.2", *maps,
                     "-c:a", "pcm_s16le")
    reason = attempt(src, tmp_path / "out", ffmpeg, test_limits)
    assert reason and "流过多" in reason


def test_truncated_moov_is_rejected(good: Path, tmp_path: Path, ffmpeg: str, test_limits: MediaLimits) -> None:
    data = good.read_bytes()
    assert data.index(b"moov") > data.index(b"mdat")  # no faststart: the index is at the end
    src = write(tmp_path / "cut.mp4", data[: data.index(b"moov") - 4 + 40])
    assert attempt(src, tmp_path / "out", ffmpeg, test_limits)


def test_truncated_tail_is_rejected_or_safe(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                            test_limits: MediaLimits) -> None:
    fast = make_media("faststart.mp4", *lavfi_av("320x240", 25, 3), "-movflags", "+faststart")
    data = fast.read_bytes()
    attempt(write(tmp_path / "tail.mp4", data[: len(data) // 2]), tmp_path / "out", ffmpeg, test_limits)


def test_corrupt_bytes_mid_file_are_rejected_or_safe(good: Path, tmp_path: Path, ffmpeg: str,
                                                     test_limits: MediaLimits) -> None:
    data = bytearray(good.read_bytes())
    middle = len(data) // 3
    data[middle : middle + len(data) // 5] = os.urandom(len(data) // 5)
    attempt(write(tmp_path / "corrupt.mp4", bytes(data)), tmp_path / "out", ffmpeg, test_limits)


def test_subtitle_and_attachment_streams_are_dropped(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                                     test_limits: MediaLimits) -> None:
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:02,000\nhttp://127.0.0.1:9/evil\n")
    src = make_media("subs.mkv", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-i", str(srt),
                     "-map", "0:v", "-map", "1:s", "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "srt",
                     "-attach", str(srt), "-metadata:s:t", "mimetype=text/plain")
    assert attempt(src, tmp_path / "out", ffmpeg, test_limits) is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "240p", "master.m3u8", "poster.jpg", "sprite.jpg", "sprite.vtt",
    ]


def test_huge_declared_duration_is_rejected(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                            test_limits: MediaLimits) -> None:
    data = bytearray(make_media("short.mkv", *lavfi_av("64x64", 5, 1)).read_bytes())
    duration = data.index(b"\x44\x89\x88")  # Matroska Duration, an 8-byte float in milliseconds
    struct.pack_into(">d", data, duration + 3, 1e9)
    reason = attempt(write(tmp_path / "forever.mp4", bytes(data)), tmp_path / "out", ffmpeg, test_limits)
    assert reason and "时长" in reason


def test_lying_mp4_durations_are_safe(good: Path, tmp_path: Path, ffmpeg: str, test_limits: MediaLimits) -> None:
    data = bytearray(good.read_bytes())
    for box in (b"mvhd", b"tkhd", b"mdhd"):
        start = 0
        while (at := data.find(box, start)) != -1:
            # Version-0 boxes: duration follows version/flags, two dates and (except tkhd) a timescale.
            offset = at + 4 + 4 + 8 + (8 if box == b"tkhd" else 4)
            struct.pack_into(">I", data, offset, 0x7FFFFFFF)
            start = at + 4
    attempt(write(tmp_path / "liar.mp4", bytes(data)), tmp_path / "out", ffmpeg, test_limits)


def test_unsupported_codec_is_rejected(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                       test_limits: MediaLimits) -> None:
    src = make_media("ffv1.mkv", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=5:d=1", "-c:v", "ffv1")
    reason = attempt(src, tmp_path / "out", ffmpeg, test_limits)
    assert reason and "不支持的视频编码" in reason


def test_tiny_frame_is_rejected(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                test_limits: MediaLimits) -> None:
    src = make_media("tiny.mp4", "-f", "lavfi", "-i", "testsrc2=s=8x8:r=5:d=1", "-c:v", "libx264")
    reason = attempt(src, tmp_path / "out", ffmpeg, test_limits)
    assert reason and "过小" in reason


def test_absurd_frame_rate_is_capped(make_media: MakeMedia, tmp_path: Path, ffmpeg: str,
                                     test_limits: MediaLimits) -> None:
    src = make_media("fast.mp4", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=1000:d=2", "-c:v", "libx264",
                     "-preset", "ultrafast")
    assert attempt(src, tmp_path / "out", ffmpeg, test_limits) is None
    assert "FRAME-RATE=30.000" in (tmp_path / "out" / "master.m3u8").read_text()
