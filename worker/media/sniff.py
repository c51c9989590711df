"""Content check by magic bytes: the first gate for hostile uploads.

ffmpeg picks a demuxer by probing content, so a text playlist named ``.mp4`` is
opened as HLS. We decide the container ourselves from the leading bytes and
later force exactly that demuxer (``-f``) together with ``-format_whitelist``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 64

# Top-level ISO-BMFF / QuickTime atoms that may legitimately open a file.
_MOV_ATOMS = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


@dataclass(frozen=True, slots=True)
class Container:
    """A demuxer we accept: `demuxer` goes to ``-f``, `whitelist` to ``-format_whitelist``."""

    demuxer: str
    whitelist: str
    label: str


MOV = Container("mov", "mov,mp4,m4a,3gp,3g2,mj2", "MP4/MOV")
MATROSKA = Container("matroska", "matroska,webm", "MKV/WebM")
AVI = Container("avi", "avi", "AVI")
FLV = Container("flv", "flv", "FLV")
MPEGTS = Container("mpegts", "mpegts", "MPEG-TS")
MPEGPS = Container("mpeg", "mpeg", "MPEG-PS")
ASF = Container("asf", "asf", "WMV/ASF")
WAV = Container("wav", "wav", "WAV")
MP3 = Container("mp3", "mp3", "MP3")
FLAC = Container("flac", "flac", "FLAC")
OGG = Container("ogg", "ogg", "OGG")
ADTS = Container("aac", "aac", "AAC")

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def sniff_bytes(head: bytes) -> Container | None:
    """Return the container recognised from the first bytes of a file, or None."""
    if len(head) >= 12 and head[4:8] in _MOV_ATOMS:
        return MOV
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MATROSKA
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return AVI
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"FLV\x01"):
        return FLV
    if head.startswith(_ASF_GUID):
        return ASF
    if head.startswith(b"\x00\x00\x01\xba"):
        return MPEGPS
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"ID3"):
        return MP3
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return ADTS
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return MP3
    return None


def sniff_file(path: Path) -> Container | None:
    """Sniff a file on disk; MPEG-TS needs sync bytes at three packet boundaries."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        found = sniff_bytes(head)
        if found is not None or not head.startswith(b"\x47"):
            return found
        f.seek(188)
        second = f.read(1)
        f.seek(376)
        third = f.read(1)
    return MPEGTS if second == b"\x47" and third == b"\x47" else None
