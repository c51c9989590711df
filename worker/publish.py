"""Upload the engine's output to S3 while it is being written, so the lowest rung plays within seconds.

Follows the engine's contract (worker/media/pipeline.py): a segment is final once some version of its
rung's index.m3u8 lists it, init.mp4 once the first index.m3u8 exists. So per rung and per new playlist
version: upload the files it lists that are not up yet, then the playlist. Poster, sprite and master.m3u8
come at the end, master last — its presence in S3 means the whole ladder is there.

Synchronous (boto3): the transcode task calls it from a thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from server import keys
from server.storage import Storage
from worker.media.pipeline import TranscodeResult

PLAYLIST = "index.m3u8"
MASTER = "master.m3u8"
_URI_ATTR = re.compile(r'URI="([^"]*)"')
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4",
                 ".jpg": "image/jpeg", ".vtt": "text/vtt"}
IMMUTABLE = "public, max-age=31536000, immutable"
GROWING = "public, max-age=1"
FINISHED = "public, max-age=3600"


def listed_files(playlist: str) -> list[str]:
    """Pure: the files a media playlist names, init segment (#EXT-X-MAP) first, in order."""
    files: list[str] = []
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            files += _URI_ATTR.findall(line)
        elif line and not line.startswith("#"):
            files.append(line)
    return list(dict.fromkeys(files))


def is_endlist(playlist: str) -> bool:
    return "#EXT-X-ENDLIST" in playlist


class Publisher:
    """Publishes one attempt's output directory under its own prefix."""

    def __init__(self, storage: Storage, prefix: str, outdir: Path, *,
                 on_put: Callable[[str], None] | None = None, parallel: int = 6) -> None:
        self.storage = storage
        self.prefix = prefix
        self.outdir = outdir
        self.on_put = on_put
        self.parallel = parallel
        self._uploaded: set[str] = set()
        self._playlists: dict[str, str] = {}

    def published_rungs(self) -> set[str]:
        """Rungs with at least one playlist in S3 (playable from their beginning)."""
        return set(self._playlists)

    def sync(self, rungs: list[str]) -> None:
        """Publish whatever became final since the last call."""
        for rung in rungs:
            path = self.outdir / rung / PLAYLIST
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            if text == self._playlists.get(rung):
                continue
            pending = [f"{rung}/{name}" for name in listed_files(text) if f"{rung}/{name}" not in self._uploaded]
            self._put_files(pending, IMMUTABLE)
            self._put(f"{rung}/{PLAYLIST}", text.encode("utf-8"), FINISHED if is_endlist(text) else GROWING)
            self._playlists[rung] = text

    def finish(self, result: TranscodeResult) -> None:
        """Everything left, the master playlist last."""
        self.sync([r.name for r in result.renditions])
        extras = [name for name in (result.poster, result.sprite, result.sprite_vtt) if name]
        self._put_files(extras, FINISHED)
        self._put(MASTER, (self.outdir / result.master).read_bytes(), FINISHED)

    def _put_files(self, relpaths: list[str], cache_control: str) -> None:
        if not relpaths:
            return
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(relpaths))) as pool:
            # list() propagates the first upload error instead of silently skipping a segment.
            list(pool.map(lambda rel: self._put_file(rel, cache_control), relpaths))
        for rel in relpaths:
            self._uploaded.add(rel)
            if self.on_put is not None:
                self.on_put(rel)

    def _put_file(self, relpath: str, cache_control: str) -> None:
        key = keys.media_key(self.prefix, relpath)
        self.storage.put_file(key, self.outdir / relpath, _content_type(relpath), cache_control)

    def _put(self, relpath: str, data: bytes, cache_control: str) -> None:
        self.storage.put_bytes(keys.media_key(self.prefix, relpath), data, _content_type(relpath), cache_control)
        if self.on_put is not None:
            self.on_put(relpath)


def _content_type(relpath: str) -> str:
    return CONTENT_TYPES.get(Path(relpath).suffix, "application/octet-stream")
