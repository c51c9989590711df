from __future__ import annotations

from pathlib import Path

import pytest

from worker.media import sniff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", sniff.MOV),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00", sniff.MOV),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00", sniff.MATROSKA),
        (b"RIFF\x00\x00\x00\x00AVI LIST", sniff.AVI),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", sniff.WAV),
        (b"FLV\x01\x05", sniff.FLV),
        (b"ID3\x04\x00", sniff.MP3),
        (b"\xff\xfb\x90\x00", sniff.MP3),
        (b"\xff\xf1\x50\x80", sniff.ADTS),
        (b"OggS\x00\x02", sniff.OGG),
        (b"fLaC\x00\x00", sniff.FLAC),
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", None),
        (b"ffconcat version 1.0\n", None),
        (b"<!DOCTYPE html><html>", None),
        (b"PK\x03\x04\x14\x00", None),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"\xff\xd8\xff\xe0", None),
        (b"", None),
    ],
)
def test_sniff_bytes(head: bytes, expected: sniff.Container | None) -> None:
    assert sniff.sniff_bytes(head) == expected


def test_mpegts_needs_three_sync_bytes(tmp_path: Path) -> None:
    packet = b"\x47" + b"\x00" * 187
    good = tmp_path / "good.ts"
    good.write_bytes(packet * 3)
    bad = tmp_path / "bad.ts"
    bad.write_bytes(b"G" + b"x" * 600)
    assert sniff.sniff_file(good) == sniff.MPEGTS
    assert sniff.sniff_file(bad) is None
